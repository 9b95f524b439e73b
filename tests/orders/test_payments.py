"""payment_paid_record and the payment status table: every path that learns of a payment ends here."""

from datetime import datetime

import pytest

from catalog.models import Product
from orders.models import Order, OrderEvent, OrderStatus, Payment, PaymentStatus
from orders.services.payment_status import PAYMENT_TRANSITIONS, payment_status_change
from orders.services.payments import PaidOutcome, payment_paid_record
from wechat.pay.v2 import BEIJING

pytestmark = pytest.mark.django_db

PAID_AT = datetime(2026, 11, 23, 15, 3, 12, tzinfo=BEIJING)


@pytest.fixture
def payment(sku, place_order):
    order = place_order([(sku, 2)])
    return Payment.objects.create(
        order=order, out_trade_no=f"{order.order_no}01", amount_fen=order.total_fen, sign_type="MD5"
    )


def _record(payment: Payment, **changes) -> PaidOutcome:
    arguments = {
        "out_trade_no": payment.out_trade_no,
        "transaction_id": "4200002026112312345678901234",
        "amount_fen": payment.amount_fen,
        "paid_at": PAID_AT,
        "reason": "test",
        **changes,
    }
    return payment_paid_record(**arguments)


def test_the_first_report_pays_the_payment_and_the_order_and_moves_the_sales_count(payment, sku):
    assert _record(payment) == PaidOutcome.APPLIED

    payment.refresh_from_db()
    assert (payment.status, payment.transaction_id, payment.paid_at) == (
        "paid",
        "4200002026112312345678901234",
        PAID_AT,
    )
    assert Order.objects.get(pk=payment.order_id).status == OrderStatus.PAID
    event = OrderEvent.objects.filter(order_id=payment.order_id).latest("id")
    assert (event.from_status, event.to_status, event.actor) == ("pending_payment", "paid", "payment")
    assert Product.objects.get(pk=sku.product_id).sales_count == 2


def test_a_second_report_is_a_duplicate_and_changes_nothing(payment, sku):
    _record(payment)

    assert _record(payment) == PaidOutcome.DUPLICATE
    assert OrderEvent.objects.filter(order_id=payment.order_id, to_status="paid").count() == 1
    assert Product.objects.get(pk=sku.product_id).sales_count == 2


@pytest.mark.parametrize("already_paid", [False, True])
def test_another_amount_is_never_paid_even_after_payment(payment, already_paid):
    if already_paid:
        _record(payment)

    assert _record(payment, amount_fen=payment.amount_fen - 1) == PaidOutcome.AMOUNT_MISMATCH
    payment.refresh_from_db()
    assert payment.status == ("paid" if already_paid else "pending")


def test_an_unknown_out_trade_no_changes_nothing(payment):
    assert _record(payment, out_trade_no="20260101000000000000000001") == PaidOutcome.UNKNOWN_PAYMENT
    assert Payment.objects.get(pk=payment.pk).status == "pending"


@pytest.mark.parametrize(
    "status", [OrderStatus.CANCELLED, OrderStatus.EXPIRED, OrderStatus.PAID, OrderStatus.REFUNDING]
)
def test_money_for_an_order_not_awaiting_payment_is_not_applied(payment, sku, status):
    Order.objects.filter(pk=payment.order_id).update(status=status)

    assert _record(payment) == PaidOutcome.ORDER_NOT_PAYABLE
    assert Payment.objects.get(pk=payment.pk).status == "pending"
    assert Order.objects.get(pk=payment.order_id).status == status
    assert Product.objects.get(pk=sku.product_id).sales_count == 0


def test_a_payment_closed_at_wechat_is_not_paid(payment):
    payment_status_change(payment_id=payment.pk, to_status=PaymentStatus.CLOSED)

    assert _record(payment) == PaidOutcome.ORDER_NOT_PAYABLE
    assert Order.objects.get(pk=payment.order_id).status == OrderStatus.PENDING_PAYMENT


def test_a_failed_prepay_that_was_paid_at_wechat_is_paid(payment):
    payment_status_change(payment_id=payment.pk, to_status=PaymentStatus.FAILED)

    assert _record(payment) == PaidOutcome.APPLIED


ALL_PAYMENT_MOVES = [(a, b) for a in PaymentStatus.values for b in PaymentStatus.values if a != b and b != "paid"]


@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAYMENT_MOVES)
def test_payment_status_changes_follow_the_table(payment, from_status, to_status):
    Payment.objects.filter(pk=payment.pk).update(status=from_status)

    changed = payment_status_change(payment_id=payment.pk, to_status=to_status)

    allowed = (from_status, to_status) in PAYMENT_TRANSITIONS
    assert changed is allowed
    assert Payment.objects.get(pk=payment.pk).status == (to_status if allowed else from_status)


def test_paid_is_set_only_by_payment_paid_record(payment):
    with pytest.raises(ValueError):
        payment_status_change(payment_id=payment.pk, to_status=PaymentStatus.PAID)
    assert Payment.objects.get(pk=payment.pk).status == "pending"
