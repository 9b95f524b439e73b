"""Attribution on orders: each order keeps the source it was placed with (issue 17 item 4).

Run on both placement paths: PostgreSQL's orders_order_place() (migration 0022) when DATABASE_URL
names PostgreSQL, the ORM path on SQLite (`make test` without DATABASE_URL).
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from campaigns.models import Campaign
from campaigns.services import campaign_create
from orders.models import Order
from orders.services.placement import OrderSource, order_create
from orders.services.placement_in_database import order_place_in_database_supported

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/orders"


def _body(sku, address, source=None) -> dict:
    body = {"items": [{"sku_id": sku.pk, "quantity": 1}], "address_id": address.pk}
    if source is not None:
        body["source"] = source
    return body


@pytest.fixture
def poster():
    return campaign_create(name="Spring poster", channel=Campaign.Channel.POSTER, code="poster-0412")


@pytest.mark.parametrize(
    ("source", "launched_from"),
    [
        ({"scene": 1058, "campaign": "a7", "path": "pages/product/detail"}, "an article's card"),
        ({"scene": 1035, "campaign": "menu-shop", "path": "pages/index/index"}, "the Official Account's menu"),
        ({"scene": 1047, "campaign": "poster-0412", "path": "pages/product/detail"}, "a code scanned"),
        ({"scene": 1048, "campaign": "poster-0412", "path": "pages/product/detail"}, "a code photographed"),
        ({"scene": 1049, "campaign": "poster-0412", "path": "pages/product/detail"}, "a code long-pressed"),
    ],
)
def test_an_order_records_the_source_it_was_placed_with(api, sku, address, poster, source, launched_from):
    response = api.post(ORDERS, _body(sku, address, source), format="json")

    assert response.status_code == 201, (launched_from, response.json())
    assert response.json()["source"] == source
    order = Order.objects.get(order_no=response.json()["order_no"])
    assert (order.source_scene, order.source_campaign, order.source_path) == (
        source["scene"],
        source["campaign"],
        source["path"],
    )
    assert order.campaign == (poster if source["campaign"] == poster.code else None)
    assert api.get(f"{ORDERS}/{order.order_no}").json()["source"] == source


def test_an_unknown_campaign_code_is_kept_as_given_and_linked_to_nothing(api, sku, address, poster):
    source = {"scene": 1047, "campaign": "printed-before-entered", "path": "pages/product/detail"}

    response = api.post(ORDERS, _body(sku, address, source), format="json")

    assert response.status_code == 201, response.json()
    order = Order.objects.get(order_no=response.json()["order_no"])
    assert (order.source_campaign, order.campaign) == ("printed-before-entered", None)


def test_each_order_keeps_its_own_source(customer, place_order, sku, poster):
    first = place_order([(sku, 1)], source=OrderSource(scene=1047, campaign="poster-0412", path="pages/product/detail"))
    second = place_order([(sku, 1)], source=OrderSource(scene=1058, campaign="a9", path="pages/index/index"))
    third = place_order([(sku, 1)])

    orders = {order.pk: order for order in Order.objects.all()}
    assert [
        (orders[placed.pk].source_scene, orders[placed.pk].source_campaign, orders[placed.pk].campaign_id)
        for placed in [first, second, third]
    ] == [(1047, "poster-0412", poster.pk), (1058, "a9", None), (None, "", None)]
    assert orders[third.pk].source_path == ""


def test_an_order_without_a_source_or_with_the_old_two_fields_is_placed_as_before(api, sku, address):
    without = api.post(ORDERS, _body(sku, address), format="json")
    old_shape = api.post(ORDERS, _body(sku, address, {"scene": 1043, "campaign": "push-42"}), format="json")

    assert without.status_code == old_shape.status_code == 201
    assert without.json()["source"] == {"scene": None, "campaign": "", "path": ""}
    assert old_shape.json()["source"] == {"scene": 1043, "campaign": "push-42", "path": ""}


@pytest.mark.parametrize(
    ("source", "field", "words"),
    [
        ({"scene": "article"}, "scene", "A valid integer is required."),
        ({"scene": 58}, "scene", "Ensure this value is greater than or equal to 1000."),
        ({"scene": 100000}, "scene", "Ensure this value is less than or equal to 9999."),
        ({"campaign": "c" * 33}, "campaign", "Ensure this field has no more than 32 characters."),
        ({"campaign": "春季海报"}, "campaign", "Use letters, digits and !#$&'()*+,/:;=?@-._~ only"),
        ({"campaign": "two words"}, "campaign", "Use letters, digits and !#$&'()*+,/:;=?@-._~ only"),
        ({"campaign": "a7\n"}, "campaign", "Use letters, digits and !#$&'()*+,/:;=?@-._~ only"),
        ({"path": "p" * 257}, "path", "Ensure this field has no more than 256 characters."),
        ({"path": "pages/index/index\n"}, "path", "A page path has no spaces, line breaks or control characters."),
    ],
)
def test_a_bad_source_is_a_400_naming_the_field_and_places_nothing(api, sku, address, source, field, words):
    response = api.post(ORDERS, _body(sku, address, source), format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["fields"]) == ["source"]
    assert list(body["fields"]["source"]) == [field]
    assert body["fields"]["source"][field][0].startswith(words)
    assert not Order.objects.exists()
    sku.refresh_from_db()
    assert sku.stock == 10


def test_a_retry_with_the_same_source_is_the_same_order_and_another_page_is_another_request(api, sku, address):
    source = {"scene": 1047, "campaign": "poster-0412", "path": "pages/product/detail"}
    first = api.post(ORDERS, _body(sku, address, source), format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    retry = api.post(ORDERS, _body(sku, address, source), format="json", HTTP_IDEMPOTENCY_KEY="key-1")
    other_page = api.post(
        ORDERS,
        _body(sku, address, {**source, "path": "pages/index/index"}),
        format="json",
        HTTP_IDEMPOTENCY_KEY="key-1",
    )

    assert (first.status_code, retry.status_code, other_page.status_code) == (201, 201, 422)
    assert retry.json()["order_no"] == first.json()["order_no"]


@pytest.mark.django_db(transaction=True)
def test_the_campaign_is_linked_within_the_placing_round_trips(customer, address, sku, poster):
    """PostgreSQL: still one statement, the campaign found inside it; the ORM path: one query more."""
    source = OrderSource(scene=1047, campaign="poster-0412", path="pages/product/detail")
    with CaptureQueriesContext(connection) as with_campaign:
        order = order_create(
            customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}], source=source
        )
    with CaptureQueriesContext(connection) as without_campaign:
        order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])

    order.refresh_from_db()
    assert (order.campaign, order.source_path) == (poster, "pages/product/detail")
    if order_place_in_database_supported():
        assert len(with_campaign.captured_queries) == len(without_campaign.captured_queries) == 1
    else:
        assert len(with_campaign.captured_queries) == len(without_campaign.captured_queries) + 1
