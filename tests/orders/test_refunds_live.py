"""Refunds end to end: the sandbox delivers its refund notifications to our live server; a real worker submits.

退款结果通知 is posted to the notify_url the refund named, and repeated until answered SUCCESS.
"""

import time

import pytest
import requests
from django.conf import settings

from orders.models import Order, OrderStatus, Refund, RefundStatus
from orders.services.refunds import refund_request
from orders.tasks import submit_refund
from tests.orders.refund_helpers import order_tasks_to_the_test_worker, paid_payment, tasks_run_eagerly  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

PAY_SUCCESS = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"


def wait_until(condition, *, seconds: float = 20):
    deadline = time.monotonic() + seconds
    while not (result := condition()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert result, "timed out"
    return result


def refund_deliveries(sandbox) -> list[dict]:
    return [delivery for delivery in sandbox.outbox() if delivery["description"].startswith("refund")]


@pytest.mark.parametrize(
    "amount_fen, order_status",
    [(3990, OrderStatus.REFUNDED), (1000, OrderStatus.PARTIALLY_REFUNDED)],
    ids=["full", "partial"],
)
@pytest.mark.usefixtures("tasks_run_eagerly")
def test_a_refund_goes_through_and_its_notification_settles_it_once(
    live_server, sandbox, settings, sku, place_order, amount_fen, order_status
):
    settings.WECHAT_PAY_REFUND_NOTIFY_URL = f"{live_server.url}/wechat/pay/refund-notify/"
    payment = paid_payment(sandbox, place_order([(sku, 1)]))

    refund = refund_request(payment_id=payment.pk, amount_fen=amount_fen, reason="returned", staff_user=None)

    refund.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSING  # submitted on commit, over TLS with the certificate
    sandbox.advance_clock(10)  # WeChat completes it and posts the notification
    [delivery] = wait_until(
        lambda: [d for d in refund_deliveries(sandbox) if d["state"] in {"delivered", "failed"}] or None
    )
    assert delivery["state"] == "delivered" and delivery["attempts"][0]["answer"] == PAY_SUCCESS
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED
    order = Order.objects.get(pk=payment.order_id)
    assert order.status == order_status
    assert [event.to_status for event in order.events.all()] == ["pending_payment", "paid", "refunding", order_status]

    # WeChat sends it again (its answer was lost, say): answered SUCCESS, nothing changes.
    again = requests.post(delivery["url"], data=delivery["body"].encode(), timeout=10)
    assert again.text == PAY_SUCCESS
    assert refund.events.count() == 3
    assert Order.objects.get(pk=payment.order_id).events.count() == 4


@pytest.mark.usefixtures("tasks_run_eagerly")
def test_a_second_partial_refund_ends_the_order_refunded(live_server, sandbox, settings, sku, place_order):
    settings.WECHAT_PAY_REFUND_NOTIFY_URL = f"{live_server.url}/wechat/pay/refund-notify/"
    payment = paid_payment(sandbox, place_order([(sku, 1)]))

    refund_request(payment_id=payment.pk, amount_fen=1000, reason="one cup broken", staff_user=None)
    refund_request(payment_id=payment.pk, amount_fen=2990, reason="the rest returned", staff_user=None)
    sandbox.advance_clock(10)

    wait_until(lambda: Refund.objects.filter(status=RefundStatus.SUCCEEDED).count() == 2)
    order = Order.objects.get(pk=payment.order_id)
    assert order.status == OrderStatus.REFUNDED
    assert [event.to_status for event in order.events.all()] == ["pending_payment", "paid", "refunding", "refunded"]


def _finished_submissions() -> int:
    log = (settings.VAR_DIR / "test-celery-worker.log").read_text()
    return sum(1 for line in log.splitlines() if f"Task {submit_refund.name}[" in line and "succeeded" in line)


@pytest.mark.usefixtures("order_tasks_to_the_test_worker")
def test_a_real_worker_makes_the_refund_at_wechat_once_though_the_task_runs_twice(
    celery_worker, sandbox, sku, place_order
):
    payment = paid_payment(sandbox, place_order([(sku, 1)]))
    finished_before = _finished_submissions()

    refund = refund_request(payment_id=payment.pk, amount_fen=1500, reason="late delivery", staff_user=None)
    submit_refund.delay(refund.pk)  # delivered twice

    wait_until(lambda: _finished_submissions() >= finished_before + 2, seconds=30)
    refund.refresh_from_db()
    [at_wechat] = sandbox.pay_refunds()
    assert (refund.status, refund.refund_id) == (RefundStatus.PROCESSING, at_wechat["refund_id"])
    assert at_wechat["refund_fee"] == 1500
    assert refund.events.filter(to_status=RefundStatus.PROCESSING).count() == 1


@pytest.mark.parametrize(
    ("refund_status", "words"),
    [
        ("CHANGE", "微信支付通知：买家账户无法入账（CHANGE）：未退款"),
        ("REFUNDCLOSE", "微信支付通知：微信支付已关闭该退款（REFUNDCLOSE）：未退款"),
    ],
)
@pytest.mark.usefixtures("tasks_run_eagerly")
def test_a_refund_ending_change_or_refundclose_is_recorded_failed_and_the_money_not_counted_refunded(
    live_server, sandbox, settings, sku, place_order, refund_status, words
):
    """退款结果通知: refund_status CHANGE (退款异常) or REFUNDCLOSE (退款关闭).

    Chosen through the sandbox control POST /sandbox/pay/refund-outcome.
    """
    settings.WECHAT_PAY_REFUND_NOTIFY_URL = f"{live_server.url}/wechat/pay/refund-notify/"
    payment = paid_payment(sandbox, place_order([(sku, 1)]))
    sandbox.set_refund_outcome(settings.WECHAT_PAY_MCH_ID, refund_status)

    refund = refund_request(payment_id=payment.pk, amount_fen=3990, reason="returned", staff_user=None)
    sandbox.advance_clock(10)  # WeChat ends it and posts the notification

    [delivery] = wait_until(
        lambda: [d for d in refund_deliveries(sandbox) if d["state"] in {"delivered", "failed"}] or None
    )
    assert delivery["state"] == "delivered" and delivery["attempts"][0]["answer"] == PAY_SUCCESS
    refund.refresh_from_db()
    assert refund.status == RefundStatus.FAILED
    assert words in refund.failure_reason
    payment.refresh_from_db()
    assert payment.refunded_fen == 0
    order = Order.objects.get(pk=payment.order_id)
    assert order.status == OrderStatus.PAID
    assert [event.to_status for event in order.events.all()] == ["pending_payment", "paid", "refunding", "paid"]

    # Nothing moved at WeChat either: the whole amount can be refunded again, and this time it goes through.
    again = refund_request(payment_id=payment.pk, amount_fen=3990, reason="returned, second try", staff_user=None)
    sandbox.advance_clock(10)
    wait_until(lambda: Refund.objects.filter(pk=again.pk, status=RefundStatus.SUCCEEDED).exists())
    assert Order.objects.get(pk=payment.order_id).status == OrderStatus.REFUNDED
