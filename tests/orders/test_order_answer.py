"""order_detail_answer() builds OrderDetailOutputSerializer's answer by hand, for placing orders: the same, always."""

import json

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from rest_framework.test import APIRequestFactory

from campaigns.sources import Source
from catalog.models import ProductImage
from orders.apis import OrderDetailOutputSerializer, order_detail_answer
from orders.models import OrderActor, OrderStatus
from orders.selectors import order_for_customer
from orders.services.placement import order_place
from orders.services.status import order_cancel, order_ship, order_transition
from tests.factories import AddressFactory, CustomerFactory, SkuFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_():
    return APIRequestFactory().post("/api/v1/orders", secure=True)


@pytest.fixture
def placed():
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, recipient="张三", detail="中山路 1 号")
    imaged = SkuFactory(stock=9, specs={"color": "白", "size": "L"}, price_fen=3990)
    name = default_storage.save("catalog/茶杯 (白).jpg", ContentFile(b"not really a jpeg"))
    ProductImage.objects.create(product=imaged.product, image=name, position=0)
    plain = SkuFactory(stock=9, specs={}, price_fen=0)
    return order_place(
        customer=customer,
        address_id=address.pk,
        items=[{"sku_id": imaged.pk, "quantity": 2}, {"sku_id": plain.pk, "quantity": 1}],
        note="请放门口",
        source=Source(scene=1058, campaign="spring", path="pages/product/detail"),
        idempotency_key="answer",
    )


def _both(order, request) -> tuple[str, str]:
    # Compared as the JSON a client gets: key order and types included.
    by_hand = order_detail_answer(order, request=request)
    by_serializer = OrderDetailOutputSerializer(order, context={"request": request}).data
    return json.dumps(by_hand, ensure_ascii=False), json.dumps(by_serializer, ensure_ascii=False)


def test_a_placed_order_as_placing_it_answers(placed, request_):
    by_hand, by_serializer = _both(placed.order_to_answer_with(), request_)

    assert by_hand == by_serializer
    assert '"image": "https://testserver/media/' in by_hand


def test_a_placed_order_answered_from_the_lines_and_timeline_placing_wrote(placed, request_):
    # What POST /api/v1/orders answers: the rows placement handed back, given as they are.
    by_hand = order_detail_answer(placed.order, request=request_, lines=placed.lines, timeline=placed.timeline)
    by_serializer = OrderDetailOutputSerializer(placed.order_to_answer_with(), context={"request": request_}).data

    assert json.dumps(by_hand, ensure_ascii=False) == json.dumps(by_serializer, ensure_ascii=False)
    assert [item["quantity"] for item in by_hand["items"]] == [2, 1]
    assert [step["to"] for step in by_hand["timeline"]] == ["pending_payment"]


def test_an_order_read_back_without_a_source(request_):
    customer = CustomerFactory()
    address = AddressFactory(customer=customer)
    order = order_place(
        customer=customer, address_id=address.pk, items=[{"sku_id": SkuFactory(stock=1).pk, "quantity": 1}]
    ).order

    by_hand, by_serializer = _both(order_for_customer(customer=customer, order_no=order.order_no), request_)

    assert by_hand == by_serializer
    assert '"scene": null' in by_hand


def test_an_order_paid_then_shipped_and_one_cancelled(placed, request_, django_user_model):
    order = placed.order
    order_transition(order_id=order.pk, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT)
    staff = django_user_model.objects.create_user(username="shipper", is_staff=True)
    order_ship(order=order, carrier="sf", tracking_number="SF1234567890123", staff_user=staff)
    shipped = order_for_customer(customer=order.customer, order_no=order.order_no)
    other = order_place(
        customer=order.customer,
        address_id=AddressFactory(customer=order.customer).pk,
        items=[{"sku_id": SkuFactory(stock=1).pk, "quantity": 1}],
    ).order
    order_cancel(order=other, actor=OrderActor.CUSTOMER, reason="changed my mind")
    cancelled = order_for_customer(customer=order.customer, order_no=other.order_no)

    for read_back in (shipped, cancelled):
        by_hand, by_serializer = _both(read_back, request_)
        assert by_hand == by_serializer
    assert '"carrier_code": "sf"' in _both(shipped, request_)[0]
    assert '"reason": "changed my mind"' in _both(cancelled, request_)[0]
