"""A v3 refund that ends ABNORMAL (退款异常) or CLOSED (退款关闭) is recorded as test_refunds_live does for v2.

退款结果通知 (APIv3): event_type REFUND.ABNORMAL / REFUND.CLOSED with the resource's refund_status;
查询单笔退款 answers status ABNORMAL / CLOSED. Neither moves money: the refund failed, the order is
paid again and the whole amount can be refunded once more. Chosen through the sandbox control
POST /sandbox/pay/refund-outcome.
"""

import pytest

from orders.models import Order, OrderStatus, Refund, RefundStatus
from orders.services.refunds import refund_query_settle, refund_request
from tests.orders.conftest import authenticated_client
from tests.orders.payments import UNREACHABLE_NOTIFY_URL, prepaid, wait_until
from tests.orders.payments_v3 import sandbox_v3_shop
from tests.orders.refund_helpers import tasks_run_eagerly  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db(transaction=True)
REFUND_NOTIFY_PATH = "/wechat/pay/v3/refund-notify/"
# The reason in the site's language (Chinese) when written by the notification endpoint, and in the
# test's own language (English, tests/conftest.py) when written by the refund query the test calls.
ENDINGS = [
    (
        "ABNORMAL",
        "REFUND.ABNORMAL",
        "微信支付通知：买家账户无法入账（CHANGE）：未退款",
        "the buyer's account could not take the money (CHANGE)",
    ),
    (
        "CLOSED",
        "REFUND.CLOSED",
        "微信支付通知：微信支付已关闭该退款（REFUNDCLOSE）：未退款",
        "WeChat Pay closed the refund (REFUNDCLOSE)",
    ),
]


def _paid_v3_order(sandbox, customer, sku, place_order) -> Order:
    order = place_order([(sku, 1)])
    payment = prepaid(authenticated_client(customer), order)
    assert payment.sign_type == "RSA"  # made through the v3 backend
    sandbox.pay_order(payment.out_trade_no)
    wait_until(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.PAID)
    return order


def _assert_failed_and_refundable_again(sandbox, order: Order, refund: Refund, words: str) -> None:
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert words in refund.failure_reason
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert [event.to_status for event in order.events.all()] == ["pending_payment", "paid", "refunding", "paid"]
    assert order.payments.get().refunded_fen == 0
    # Nothing moved at WeChat Pay either: the whole amount can be refunded again, and this time it goes through.
    again = refund_request(order_id=order.pk, amount_fen=order.total_fen, reason="second try", staff_user=None)
    sandbox.advance_clock(10)
    # Settled by its notification, or (notify_url unreachable) by asking 查询单笔退款.
    refund_query_settle(refund_id=again.pk)
    wait_until(lambda: Refund.objects.filter(pk=again.pk, status=RefundStatus.SUCCEEDED).exists())
    assert Order.objects.get(pk=order.pk).status == OrderStatus.REFUNDED


@pytest.mark.parametrize(("refund_status", "event_type", "words", "english_words"), ENDINGS)
@pytest.mark.usefixtures("tasks_run_eagerly")
def test_a_v3_refund_notified_abnormal_or_closed_is_recorded_failed_and_the_money_not_counted_refunded(
    settings, sandbox, live_server, customer, sku, place_order, refund_status, event_type, words, english_words
):
    sandbox_v3_shop(sandbox, settings, live_server)
    order = _paid_v3_order(sandbox, customer, sku, place_order)
    sandbox.set_refund_outcome(settings.WECHAT_PAY_MCH_ID, refund_status)

    refund = refund_request(order_id=order.pk, amount_fen=order.total_fen, reason="returned", staff_user=None)
    wait_until(lambda: Refund.objects.get(pk=refund.pk).status == RefundStatus.PROCESSING)
    sandbox.advance_clock(10)  # WeChat Pay ends it and posts REFUND.ABNORMAL / REFUND.CLOSED
    wait_until(lambda: Refund.objects.get(pk=refund.pk).status == RefundStatus.FAILED)

    [notified] = [delivery for delivery in sandbox.outbox() if delivery["description"].startswith("refund")]
    assert notified["url"] == f"{live_server.url}{REFUND_NOTIFY_PATH}"
    assert notified["attempts"][-1]["http_status"] == 204
    assert f'"event_type": "{event_type}"' in notified["body"]
    _assert_failed_and_refundable_again(sandbox, order, refund, words)


@pytest.mark.parametrize(("refund_status", "event_type", "words", "english_words"), ENDINGS)
@pytest.mark.usefixtures("tasks_run_eagerly")
def test_a_v3_refund_queried_abnormal_or_closed_is_recorded_failed(
    settings, sandbox, live_server, customer, sku, place_order, refund_status, event_type, words, english_words
):
    sandbox_v3_shop(sandbox, settings, live_server)
    order = _paid_v3_order(sandbox, customer, sku, place_order)
    settings.WECHAT_PAY_REFUND_NOTIFY_URL = UNREACHABLE_NOTIFY_URL  # its notification never comes
    sandbox.set_refund_outcome(settings.WECHAT_PAY_MCH_ID, refund_status)
    refund = refund_request(order_id=order.pk, amount_fen=order.total_fen, reason="returned", staff_user=None)
    wait_until(lambda: Refund.objects.get(pk=refund.pk).status == RefundStatus.PROCESSING)
    still_processing = refund_query_settle(refund_id=refund.pk)
    sandbox.advance_clock(10)

    assert (still_processing, refund_query_settle(refund_id=refund.pk)) == (False, True)
    assert sandbox.received(f"/v3/refund/domestic/refunds/{refund.out_refund_no}")
    _assert_failed_and_refundable_again(sandbox, order, refund, f"WeChat Pay refund query: {english_words}")
