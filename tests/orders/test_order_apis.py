import base64
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import CartItem, Order, OrderStatus
from orders.services.placement import order_create
from tests.factories import AddressFactory, CartItemFactory, CustomerFactory, SkuFactory
from tests.orders.conftest import authenticated_client

pytestmark = pytest.mark.django_db
ORDERS = "/api/v1/orders"
BEIJING = ZoneInfo("Asia/Shanghai")


def _order_body(sku, address, quantity=2, **extra) -> dict:
    return {"items": [{"sku_id": sku.pk, "quantity": quantity}], "address_id": address.pk, **extra}


def test_placing_an_order_answers_201_with_snapshots_and_takes_the_stock(api, sku, address, settings):
    settings.ORDER_PAYMENT_TIMEOUT_MINUTES = 15
    body = _order_body(sku, address, 3, note="leave at the door", source={"scene": 1043, "campaign": "push-42"})
    before = timezone.now()

    response = api.post(ORDERS, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 201, response.json()
    order = response.json()
    assert order["status"] == "pending_payment"
    assert len(order["order_no"]) == 24 and order["order_no"].isdigit()
    [line] = order["items"]
    assert line["sku_id"] == sku.pk
    assert (line["title"], line["specs"], line["price_fen"], line["quantity"], line["subtotal_fen"]) == (
        "Ceramic mug",
        {"color": "white"},
        3990,
        3,
        11970,
    )
    assert line["image"].startswith("http://testserver/media/catalog/")
    assert order["total_fen"] == 11970
    assert order["address"] == {
        "recipient": address.recipient,
        "phone": address.phone,
        "region": {"province": "广东省", "city": "深圳市", "district": "南山区"},
        "detail": address.detail,
    }
    assert order["source"] == {"scene": 1043, "campaign": "push-42", "path": ""}
    assert order["note"] == "leave at the door"
    assert order["paid_at"] is None
    expires_at = timezone.datetime.fromisoformat(order["expires_at"])
    assert timedelta(minutes=15) <= expires_at - before < timedelta(minutes=16)
    assert order["timeline"] == [
        {"from": None, "to": "pending_payment", "at": order["timeline"][0]["at"], "by": "customer", "reason": ""}
    ]
    assert order["shipment"] is None
    sku.refresh_from_db()
    assert sku.stock == 7


def test_the_server_computes_prices_and_ignores_any_sent(api, sku, address):
    body = _order_body(sku, address, 1)
    body["items"][0]["price_fen"] = 1
    body["total_fen"] = 1

    order = api.post(ORDERS, body, format="json").json()

    assert (order["items"][0]["price_fen"], order["total_fen"]) == (3990, 3990)


def test_snapshots_do_not_follow_later_catalog_or_address_changes(api, sku, address):
    order_no = api.post(ORDERS, _order_body(sku, address, 1), format="json").json()["order_no"]
    sku.price_fen, sku.specs = 9999, {"color": "black"}
    sku.save()
    sku.product.title = "Renamed"
    sku.product.save()
    address.detail = "somewhere else"
    address.save()

    order = api.get(f"{ORDERS}/{order_no}").json()

    assert (order["items"][0]["title"], order["items"][0]["price_fen"]) == ("Ceramic mug", 3990)
    assert order["items"][0]["specs"] == {"color": "white"}
    assert order["address"]["detail"] != "somewhere else"


def test_order_numbers_start_with_the_beijing_time_so_they_sort_by_time(api, sku, address):
    numbers = [api.post(ORDERS, _order_body(sku, address, 1), format="json").json()["order_no"] for _ in range(3)]

    assert len(set(numbers)) == 3
    for order in Order.objects.filter(order_no__in=numbers):
        numbered_at = datetime.strptime(order.order_no[:14], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
        assert abs(numbered_at - order.created_at) < timedelta(seconds=2)


def test_two_items_for_one_sku_are_one_line(api, sku, address):
    body = {"items": [{"sku_id": sku.pk, "quantity": 1}, {"sku_id": sku.pk, "quantity": 2}], "address_id": address.pk}

    order = api.post(ORDERS, body, format="json").json()

    assert [(line["sku_id"], line["quantity"]) for line in order["items"]] == [(sku.pk, 3)]


def test_ordering_cart_lines_empties_them_from_the_cart(api, customer, sku, address):
    other_sku = SkuFactory(price_fen=500)
    ordered = CartItemFactory(customer=customer, sku=sku, quantity=2)
    kept = CartItemFactory(customer=customer, sku=other_sku, quantity=1)

    response = api.post(ORDERS, {"cart_item_ids": [ordered.pk], "address_id": address.pk}, format="json")

    assert response.status_code == 201, response.json()
    assert [(line["sku_id"], line["quantity"]) for line in response.json()["items"]] == [(sku.pk, 2)]
    assert list(CartItem.objects.filter(customer=customer)) == [kept]


def test_another_customers_cart_line_cannot_be_ordered(api, sku, address):
    theirs = CartItemFactory(sku=sku, quantity=1)

    response = api.post(ORDERS, {"cart_item_ids": [theirs.pk], "address_id": address.pk}, format="json")

    assert response.status_code == 404
    assert response.json()["fields"] == {"cart_item_ids": [theirs.pk]}
    assert CartItem.objects.filter(pk=theirs.pk).exists()


def test_not_enough_stock_is_409_naming_the_sku_and_what_is_left(api, address):
    sku = SkuFactory(stock=2, product__title="Teapot")

    response = api.post(ORDERS, _order_body(sku, address, 3), format="json")

    assert response.status_code == 409
    assert response.json() == {
        "code": "insufficient_stock",
        "message": "Only 2 left of “Teapot”.",
        "fields": {"sku_id": sku.pk, "stock_left": 2},
    }
    sku.refresh_from_db()
    assert sku.stock == 2
    assert Order.objects.count() == 0


def test_a_multi_line_order_short_on_one_sku_takes_no_stock_at_all(api, address):
    plenty, short = SkuFactory(stock=10), SkuFactory(stock=1)
    body = {"items": [{"sku_id": plenty.pk, "quantity": 5}, {"sku_id": short.pk, "quantity": 2}]}

    response = api.post(ORDERS, {**body, "address_id": address.pk}, format="json")

    assert response.status_code == 409
    plenty.refresh_from_db()
    short.refresh_from_db()
    assert (plenty.stock, short.stock) == (10, 1)


@pytest.mark.parametrize("off_shelf", ["sku", "product"])
def test_an_off_shelf_sku_cannot_be_ordered(api, sku, address, off_shelf):
    target = sku if off_shelf == "sku" else sku.product
    target.is_active = False
    target.save()

    response = api.post(ORDERS, _order_body(sku, address), format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "sku_unavailable"
    assert response.json()["fields"] == {"sku_id": sku.pk}


@pytest.mark.parametrize("body", [{"items": []}, {"cart_item_ids": []}, {}])
def test_an_order_without_items_is_empty_order(api, address, body):
    response = api.post(ORDERS, {**body, "address_id": address.pk}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "empty_order"


def test_items_and_cart_lines_together_are_refused(api, sku, address):
    response = api.post(ORDERS, {**_order_body(sku, address), "cart_item_ids": [1]}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


@pytest.mark.parametrize("address_id", [None, "mine-missing", "theirs"])
def test_a_missing_or_foreign_address_is_address_required(api, sku, address_id):
    body = {"items": [{"sku_id": sku.pk, "quantity": 1}]}
    if address_id == "mine-missing":
        body["address_id"] = 987654
    elif address_id == "theirs":
        body["address_id"] = AddressFactory(is_default=True).pk

    response = api.post(ORDERS, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "address_required"
    sku.refresh_from_db()
    assert sku.stock == 10


def test_a_retry_with_the_same_idempotency_key_returns_the_first_order(api, sku, address):
    first = api.post(ORDERS, _order_body(sku, address), format="json", HTTP_IDEMPOTENCY_KEY="retry-me")
    second = api.post(ORDERS, _order_body(sku, address), format="json", HTTP_IDEMPOTENCY_KEY="retry-me")

    assert second.status_code == 201
    assert second.json() == first.json()
    assert Order.objects.count() == 1
    sku.refresh_from_db()
    assert sku.stock == 8


def test_the_same_idempotency_key_with_another_body_is_422(api, sku, address):
    api.post(ORDERS, _order_body(sku, address, 1), format="json", HTTP_IDEMPOTENCY_KEY="once")

    response = api.post(ORDERS, _order_body(sku, address, 2), format="json", HTTP_IDEMPOTENCY_KEY="once")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_idempotency_keys_belong_to_one_customer(api, sku, address):
    other = CustomerFactory()
    other_address = AddressFactory(customer=other, is_default=True)
    api.post(ORDERS, _order_body(sku, address, 1), format="json", HTTP_IDEMPOTENCY_KEY="shared")

    response = authenticated_client(other).post(
        ORDERS, _order_body(sku, other_address, 1), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )

    assert response.status_code == 201
    assert Order.objects.count() == 2


def test_without_an_idempotency_key_each_create_is_a_new_order(api, sku, address):
    api.post(ORDERS, _order_body(sku, address, 1), format="json")
    api.post(ORDERS, _order_body(sku, address, 1), format="json")

    assert Order.objects.count() == 2


@pytest.mark.parametrize("key", ["x" * 65, "has space", "中文"])
def test_a_malformed_idempotency_key_is_refused(api, sku, address, key):
    response = api.post(ORDERS, _order_body(sku, address), format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["Idempotency-Key"]


def test_a_malformed_idempotency_key_is_reported_before_an_invalid_body(api):
    response = api.post(ORDERS, {"items": "not a list"}, format="json", HTTP_IDEMPOTENCY_KEY="has space")

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["Idempotency-Key"]


def test_the_list_is_mine_newest_first_and_filters_by_status(api, sku, address, place_order):
    first, second, third = (place_order([(sku, 1)]) for _ in range(3))
    Order.objects.filter(pk=second.pk).update(status=OrderStatus.CANCELLED)
    other = CustomerFactory()
    place_order([(sku, 1)], buyer=other, to_address=AddressFactory(customer=other))

    listed = api.get(ORDERS).json()
    cancelled = api.get(ORDERS, {"status": "cancelled"}).json()

    assert [order["order_no"] for order in listed["results"]] == [third.order_no, second.order_no, first.order_no]
    assert [order["order_no"] for order in cancelled["results"]] == [second.order_no]
    assert listed["next"] is None and listed["previous"] is None
    assert "timeline" not in listed["results"][0]


def test_the_list_pages_with_a_cursor(api, sku, address, place_order):
    placed = [place_order([(sku, 1)]).order_no for _ in range(5)]

    page = api.get(ORDERS, {"page_size": 2}).json()
    seen = [order["order_no"] for order in page["results"]]
    while page["next"]:
        page = api.get(page["next"]).json()
        seen += [order["order_no"] for order in page["results"]]

    assert seen == placed[::-1]


@pytest.mark.parametrize(
    "query",
    [{"status": "lost"}, {"cursor": "garbage"}, {"cursor": base64.b64encode(b"p=not-a-date&o=1").decode()}],
)
def test_a_bad_filter_or_cursor_is_a_clear_4xx(api, query):
    response = api.get(ORDERS, query)

    assert response.status_code in {400, 404}
    assert set(response.json()) == {"code", "message", "fields"}


def test_the_list_query_count_is_the_same_for_10_and_100_orders(django_assert_num_queries, sku):
    sku.stock = 1000
    sku.save()
    for size in (10, 100):
        customer = CustomerFactory()
        address = AddressFactory(customer=customer)
        for _ in range(size):
            order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])
        client = authenticated_client(customer)
        with django_assert_num_queries(3):  # the token, the page of orders, their lines
            assert len(client.get(ORDERS, {"page_size": 100}).json()["results"]) == size


def test_detail_and_cancel_of_another_customers_order_are_not_found(api, sku, place_order):
    other = CustomerFactory()
    theirs = place_order([(sku, 1)], buyer=other, to_address=AddressFactory(customer=other))

    assert api.get(f"{ORDERS}/{theirs.order_no}").status_code == 404
    response = api.post(f"{ORDERS}/{theirs.order_no}/cancel", {}, format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.status == OrderStatus.PENDING_PAYMENT


def test_cancel_returns_the_order_with_its_timeline_and_the_stock(api, sku, place_order):
    order = place_order([(sku, 4)])

    response = api.post(f"{ORDERS}/{order.order_no}/cancel", {"reason": "wrong colour"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert [(event["from"], event["to"], event["by"], event["reason"]) for event in response.json()["timeline"]] == [
        (None, "pending_payment", "customer", ""),
        ("pending_payment", "cancelled", "customer", "wrong colour"),
    ]
    sku.refresh_from_db()
    assert sku.stock == 10


def test_cancelling_twice_is_409_and_returns_the_stock_once(api, sku, place_order):
    order = place_order([(sku, 4)])
    api.post(f"{ORDERS}/{order.order_no}/cancel", {}, format="json")

    response = api.post(f"{ORDERS}/{order.order_no}/cancel", {}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "order_not_cancellable"
    sku.refresh_from_db()
    assert sku.stock == 10


def test_orders_need_a_customer_token():
    assert APIClient().get(ORDERS).status_code == 401
    assert APIClient().post(ORDERS, {}, format="json").status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/addresses/99999999999999999999999",
        "/api/v1/orders/" + "9" * 200,
        "/api/v1/orders/%00x",
        "/api/v1/orders/%00x/cancel",
    ],
)
def test_out_of_range_ids_and_malformed_order_numbers_are_not_found(api, path):
    response = api.post(path) if path.endswith("cancel") else api.get(path)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_a_large_order_totals_beyond_32_bits(api, address):
    skus = [SkuFactory(price_fen=99_999_999, stock=999) for _ in range(3)]
    body = {"items": [{"sku_id": sku.pk, "quantity": 999} for sku in skus], "address_id": address.pk}

    response = api.post(ORDERS, body, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["total_fen"] == 3 * 999 * 99_999_999


def test_a_shipped_orders_shipment_keeps_the_english_carrier_and_adds_its_code_and_chinese_name(
    api, sku, address, django_user_model
):
    from orders.models import OrderActor
    from orders.services.status import order_ship, order_transition

    order = order_create(customer=address.customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])
    order_transition(order_id=order.pk, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT)
    staff = django_user_model.objects.create_user(username="shipper", is_staff=True)
    order_ship(order=order, carrier="sf", tracking_number="SF1234567890123", staff_user=staff)

    shipment = api.get(f"{ORDERS}/{order.order_no}").json()["shipment"]

    assert (shipment["carrier"], shipment["carrier_code"], shipment["carrier_name"]) == ("SF Express", "sf", "顺丰速运")
    assert shipment["tracking_number"] == "SF1234567890123"
