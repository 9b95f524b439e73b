import secrets
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import CustomerToken
from orders.services.placement import order_create
from tests.factories import AddressFactory, CustomerFactory, ProductImageFactory, SkuFactory
from tests.languages import ENGLISH


def authenticated_client(customer) -> APIClient:
    """A client sending a real bearer token of `customer`, as the Mini Program does after login."""
    token = secrets.token_urlsafe(32)
    CustomerToken.objects.create(
        customer=customer, key_digest=CustomerToken.digest(token), expires_at=timezone.now() + timedelta(days=1)
    )
    client = APIClient(**ENGLISH)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def customer():
    return CustomerFactory()


@pytest.fixture
def api(customer) -> APIClient:
    return authenticated_client(customer)


@pytest.fixture
def address(customer):
    return AddressFactory(customer=customer, is_default=True)


@pytest.fixture
def sku():
    sku = SkuFactory(price_fen=3990, stock=10, specs={"color": "white"}, product__title="Ceramic mug")
    ProductImageFactory(product=sku.product)
    return sku


@pytest.fixture
def place_order(customer, address):
    """Place an order through the service, by default for the fixture customer to their default address."""

    def place(skus_and_quantities, *, buyer=None, to_address=None, **options):
        return order_create(
            customer=buyer or customer,
            address_id=(to_address or address).pk,
            items=[{"sku_id": sku.pk, "quantity": quantity} for sku, quantity in skus_and_quantities],
            **options,
        )

    return place
