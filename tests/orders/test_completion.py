"""Orders complete: the buyer confirms receipt (our API, or WeChat's confirm-receipt event), or time runs out."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from orders.models import Order, OrderStatus
from orders.services.completion import orders_complete_overdue
from orders.services.refunds import refund_request
from orders.services.shipments import ParcelInput, order_parcels_ship
from tests.factories import CustomerFactory
from tests.orders.conftest import authenticated_client
from tests.orders.refund_helpers import paid_payment
from wechat_sandbox.official_account_push import message_xml, signature

pytestmark = [pytest.mark.django_db, pytest.mark.services]


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(username="omar", is_staff=True)


@pytest.fixture
def shipped(sandbox, sku, place_order, staff):
    order = place_order([(sku, 1)])
    payment = paid_payment(sandbox, order)
    order_parcels_ship(order=order, parcels=[ParcelInput("sf", "SF1234567890")], staff_user=staff)
    order.refresh_from_db()
    return order, payment


def confirm(api, order_no: str):
    return api.post(f"/api/v1/orders/{order_no}/confirm-receipt")


def test_the_buyer_confirms_receipt_and_the_order_is_completed_with_an_event(api, shipped):
    order, _payment = shipped

    response = confirm(api, order.order_no)

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "completed"
    event = Order.objects.get(pk=order.pk).events.latest("id")
    assert (event.from_status, event.to_status, event.actor) == ("shipped", "completed", "customer")
    assert confirm(api, order.order_no).status_code == 200  # a repeat changes nothing
    assert Order.objects.get(pk=order.pk).events.filter(to_status="completed").count() == 1


def test_an_order_not_shipped_yet_cannot_be_confirmed(api, sandbox, sku, place_order):
    order = place_order([(sku, 1)])
    paid_payment(sandbox, order)

    response = confirm(api, order.order_no)

    assert response.status_code == 409
    assert response.json()["code"] == "order_not_shipped"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def test_another_customers_order_is_not_found(shipped):
    order, _payment = shipped
    stranger = authenticated_client(CustomerFactory())

    response = confirm(stranger, order.order_no)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED


def test_confirm_receipt_needs_a_logged_in_buyer(client, shipped):
    order, _payment = shipped

    assert client.post(f"/api/v1/orders/{order.order_no}/confirm-receipt").status_code == 401


def test_shipped_orders_complete_on_their_own_once_the_configured_days_have_passed(shipped, settings, staff):
    order, _payment = shipped
    settings.ORDER_AUTO_COMPLETE_DAYS = 7
    Order.objects.filter(pk=order.pk).update(shipped_at=timezone.now() - timedelta(days=6, hours=23))
    assert orders_complete_overdue() == 0

    Order.objects.filter(pk=order.pk).update(shipped_at=timezone.now() - timedelta(days=7, minutes=1))
    assert orders_complete_overdue() == 1
    assert orders_complete_overdue() == 0  # idempotent: nothing is completed twice

    event = Order.objects.get(pk=order.pk).events.latest("id")
    assert (event.to_status, event.actor) == ("completed", "system")


def test_more_due_orders_than_a_batch_all_complete(shipped, settings, monkeypatch):
    from orders.services import completion

    order, _payment = shipped
    monkeypatch.setattr(completion, "AUTO_COMPLETE_BATCH", 1)
    settings.ORDER_AUTO_COMPLETE_DAYS = 0.0001
    other = Order.objects.get(pk=order.pk)
    other.pk, other.order_no = None, order.order_no[:-1] + ("0" if order.order_no[-1] != "0" else "1")
    other.save()
    Order.objects.filter(pk__in=[order.pk, other.pk]).update(shipped_at=timezone.now() - timedelta(hours=1))

    assert orders_complete_overdue() == 2


def test_a_completed_order_can_still_be_refunded_by_staff(api, shipped, staff):
    order, payment = shipped
    confirm(api, order.order_no)

    refund = refund_request(payment_id=payment.pk, amount_fen=100, reason="one cup chipped", staff_user=staff)

    assert refund.amount_fen == 100
    assert Order.objects.get(pk=order.pk).status == OrderStatus.REFUNDING


def settlement_push(client, settings, fields: dict):
    """trade_manage_order_settlement as WeChat pushes it to the Mini Program's message push URL, plain mode."""
    body = message_xml({"ToUserName": "gh_2421b1c4370e", "FromUserName": "o-buyer", **fields})
    timestamp, nonce = str(int(time.time())), "4242"
    query = {"signature": signature(settings.WECHAT_MINI_PROGRAM_PUSH_TOKEN, timestamp, nonce)}
    query |= {"timestamp": timestamp, "nonce": nonce}
    url = f"/wechat/mp/{settings.WECHAT_MINI_PROGRAM_APPID}/?" + "&".join(f"{k}={v}" for k, v in query.items())
    return client.post(url, body, content_type="text/xml")


def settlement_fields(payment, **extra) -> dict:
    now = int(time.time())
    return {
        "CreateTime": now,
        "MsgType": "event",
        "Event": "trade_manage_order_settlement",
        "transaction_id": payment.transaction_id,
        "merchant_id": payment.mch_id or "10000100",
        "sub_merchant_id": "",
        "merchant_trade_no": payment.out_trade_no,
        "pay_time": now - 3600,
        "shipped_time": now - 600,
        **extra,
    }


def test_wechats_confirm_receipt_event_completes_the_order_once(client, settings, shipped):
    order, payment = shipped
    now = int(time.time())
    fields = settlement_fields(payment, confirm_receive_method=2, confirm_receive_time=now, settlement_time=now)

    assert settlement_push(client, settings, fields).content == b"success"
    assert settlement_push(client, settings, {**fields, "CreateTime": now + 1}).content == b"success"

    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED
    [event] = order.events.filter(to_status="completed")
    # Written while answering WeChat, in the site's language (Chinese); WeChat's own number either way.
    assert event.actor == "customer" and "confirm_receive_method 2" in event.reason


def test_the_push_at_shipping_completes_nothing(client, settings, shipped):
    order, payment = shipped
    fields = settlement_fields(payment, estimated_settlement_time=int(time.time()) + 86400)

    assert settlement_push(client, settings, fields).status_code == 200

    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED


def test_an_unsigned_settlement_push_is_refused(client, settings, shipped):
    order, payment = shipped
    now = int(time.time())
    body = message_xml(settlement_fields(payment, confirm_receive_time=now, confirm_receive_method=2))
    url = f"/wechat/mp/{settings.WECHAT_MINI_PROGRAM_APPID}/?timestamp={now}&nonce=1&signature={'0' * 40}"

    assert client.post(url, body, content_type="text/xml").status_code == 403
    assert Order.objects.get(pk=order.pk).status == OrderStatus.SHIPPED


def test_confirm_receipt_is_in_the_openapi_schema_with_its_refusals(client):
    schema = client.get("/api/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/orders/{order_no}/confirm-receipt"]["post"]
    assert operation["operationId"] == "orders_confirm_receipt"
    assert "requestBody" not in operation
    assert {"200", "404", "409"} <= set(operation["responses"])
