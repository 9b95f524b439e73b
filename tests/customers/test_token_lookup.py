"""customer_token_find() reads the token with its customer in one statement, prepared on PostgreSQL."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from customers.models import CustomerToken
from customers.selectors import customer_token_find
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def _token_for(customer, *, expires_in=timedelta(days=1)) -> str:
    CustomerToken.objects.create(
        customer=customer, key_digest=CustomerToken.digest("the-token"), expires_at=timezone.now() + expires_in
    )
    return "the-token"


def test_a_live_token_finds_its_customer_and_an_expired_one_nothing():
    customer = CustomerFactory(nickname="小明")
    token = _token_for(customer)

    found = customer_token_find(token=token)

    assert found.customer == customer and found.customer.nickname == "小明"
    assert customer_token_find(token="another") is None
    CustomerToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert customer_token_find(token=token) is None


@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="prepared statements are PostgreSQL's")
def test_the_lookup_is_prepared_on_its_connection_once_it_has_run_a_few_times():
    token = _token_for(CustomerFactory())
    for _ in range(settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"] + 1):
        assert customer_token_find(token=token) is not None

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [statement for (statement,) in cursor.fetchall()]

    assert [statement for statement in prepared if "customers_customertoken" in statement], prepared
