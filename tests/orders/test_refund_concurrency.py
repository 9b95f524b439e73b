"""Concurrent refunds of one payment on PostgreSQL: threads on their own connections, released at one instant."""

import pytest
from django.db import connection
from django.test import Client

from orders.exceptions import RefundExceedsPaid
from orders.models import Order, OrderStatus, Payment, Refund, RefundStatus
from orders.services.refunds import refund_request
from tests import real_services
from tests.orders.refund_helpers import paid_payment, tasks_run_eagerly  # noqa: F401
from tests.orders.test_concurrency import run_at_once
from tests.orders.test_refunds import PAY_SUCCESS, notification

pytestmark = [
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("tasks_run_eagerly"),
]


@pytest.fixture(autouse=True)
def _postgresql():
    real_services.require(connection.vendor == "postgresql", "PostgreSQL as DATABASE_URL")


def test_two_partial_refunds_that_together_exceed_the_payment_one_is_refused(sandbox, sku, place_order):
    payment = paid_payment(sandbox, place_order([(sku, 1)]))  # 3990 fen

    results = run_at_once(
        [
            lambda: refund_request(payment_id=payment.pk, amount_fen=3000, reason="first", staff_user=None),
            lambda: refund_request(payment_id=payment.pk, amount_fen=3000, reason="second", staff_user=None),
        ]
    )

    assert sorted(type(result).__name__ for result in results) == ["Refund", "RefundExceedsPaid"], results
    [refused] = [result for result in results if isinstance(result, RefundExceedsPaid)]
    assert refused.refundable_fen == 990
    assert Payment.objects.get(pk=payment.pk).refunded_fen == 3000
    assert Refund.objects.count() == 1
    assert len(sandbox.pay_refunds()) == 1


def test_many_concurrent_partial_refunds_never_refund_more_than_was_paid(sandbox, sku, place_order):
    payment = paid_payment(sandbox, place_order([(sku, 1)]))  # 3990 fen: room for three of 1000

    results = run_at_once(
        [
            lambda n=n: refund_request(payment_id=payment.pk, amount_fen=1000, reason=f"#{n}", staff_user=None)
            for n in range(8)
        ]
    )

    assert sum(isinstance(result, Refund) for result in results) == 3, results
    assert sum(isinstance(result, RefundExceedsPaid) for result in results) == 5
    assert Payment.objects.get(pk=payment.pk).refunded_fen == 3000
    assert sorted(Refund.objects.values_list("out_refund_no", flat=True)) == [
        f"{payment.out_trade_no}R0{n}" for n in (1, 2, 3)
    ]


def test_ten_concurrent_copies_of_a_refund_notification_settle_it_once(sandbox, sku, place_order):
    payment = paid_payment(sandbox, place_order([(sku, 1)]))
    refund = refund_request(payment_id=payment.pk, amount_fen=1000, reason="chipped", staff_user=None)
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSING
    body = notification(refund)

    responses = run_at_once(
        [lambda: Client().post("/wechat/pay/refund-notify/", data=body, content_type="text/xml") for _ in range(10)]
    )

    assert {response.content for response in responses} == {PAY_SUCCESS}
    assert refund.events.filter(to_status=RefundStatus.SUCCEEDED).count() == 1
    order = Order.objects.get(pk=payment.order_id)
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert order.events.filter(to_status=OrderStatus.PARTIALLY_REFUNDED).count() == 1
