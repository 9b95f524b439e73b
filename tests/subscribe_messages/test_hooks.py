"""Paying, shipping and refunding an order queue its buyer's message after commit, through a real task."""

import time

import pytest
from django.contrib.auth import get_user_model

from orders.models import OrderStatus
from orders.services.refunds import refund_request, refund_settle
from orders.services.status import order_ship
from subscribe_messages.models import OrderMilestone, SubscribeMessage, SubscribeMessageStatus
from subscribe_messages.notify import order_shipped_notify
from tests.orders.refund_helpers import paid_payment

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("tasks_run_eagerly")]


def test_paid_shipped_and_refunded_each_tell_the_buyer_once(sandbox, place_order, sku, customer, make_template, accept):
    for milestone in OrderMilestone:
        accept(customer, make_template(milestone))
    order = place_order([(sku, 1)])

    payment = paid_payment(sandbox, order)
    order_ship(
        order=order,
        carrier="sf",
        tracking_number="SF1234567890123",
        staff_user=get_user_model().objects.create_user("op"),
    )
    order_shipped_notify(order_id=order.pk)  # what h-ship's shipping service may call too: nothing new
    refund = refund_request(payment_id=payment.pk, amount_fen=order.total_fen, reason="broken", staff_user=None)
    refund_settle(refund_id=refund.pk, succeeded=True, reason="WeChat Pay notified SUCCESS")

    order.refresh_from_db()
    assert order.status == OrderStatus.REFUNDED
    sent = sandbox.subscribe_messages(customer.openid)["per_buyer"][customer.openid]
    assert [message["template_id"] for message in sent] == ["tmpl-paid", "tmpl-shipped", "tmpl-refunded"]
    assert sent[2]["data"]["amount2"] == "39.90元"
    assert set(SubscribeMessage.objects.filter(order=order).values_list("event", "status")) == {
        (milestone, SubscribeMessageStatus.SENT) for milestone in OrderMilestone
    }


def test_a_refund_wechat_refuses_takes_the_order_back_to_paid_without_a_second_paid_message(
    sandbox, place_order, sku, customer, make_template, accept
):
    accept(customer, make_template(OrderMilestone.PAID))
    order = place_order([(sku, 1)])
    payment = paid_payment(sandbox, order)
    sandbox.subscribe(customer.openid, {"tmpl-paid": "accept"})  # a second acceptance WeChat would honour

    refund = refund_request(payment_id=payment.pk, amount_fen=order.total_fen, reason="broken", staff_user=None)
    refund_settle(refund_id=refund.pk, succeeded=False, reason="WeChat refused")

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID  # entered paid again
    assert len(sandbox.subscribe_messages(customer.openid)["per_buyer"][customer.openid]) == 1


@pytest.mark.services
def test_a_real_worker_sends_the_paid_message_once_though_the_task_runs_three_times(
    sandbox, subscribe_message_worker, place_order, sku, customer, make_template, accept, settings
):
    from config.celery import app as celery_app
    from subscribe_messages.tasks import send_subscribe_message

    celery_app.conf.task_always_eager = False  # this test's tasks go to the worker process
    accept(customer, make_template(OrderMilestone.PAID))
    sandbox.subscribe(customer.openid, {"tmpl-paid": "accept"})  # WeChat would take a second one
    order = place_order([(sku, 1)])

    paid_payment(sandbox, order)  # queues the message on commit
    send_subscribe_message.delay(order.pk, OrderMilestone.PAID)
    send_subscribe_message.delay(order.pk, OrderMilestone.PAID)

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not SubscribeMessage.objects.filter(order=order, status="sent").exists():
        time.sleep(0.1)
    time.sleep(1)  # the other two runs have had their turn
    assert SubscribeMessage.objects.get(order=order).status == SubscribeMessageStatus.SENT
    assert len(sandbox.subscribe_messages(customer.openid)["per_buyer"][customer.openid]) == 1
