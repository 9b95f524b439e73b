"""Recording that WeChat Pay took the money for one of our payments: the order is marked paid exactly once."""

import enum
from datetime import datetime

from django.db import transaction
from django.db.models import F, Sum

from catalog.models import Product
from orders.models import Order, OrderActor, OrderLine, OrderStatus, Payment, PaymentStatus
from orders.services.status import _order_status_set, order_transition_allowed


class PaidOutcome(enum.StrEnum):
    APPLIED = "applied"  # the payment and its order are paid now
    DUPLICATE = "duplicate"  # already recorded: nothing changed
    AMOUNT_MISMATCH = "amount_mismatch"  # WeChat's amount is not ours: never marked paid, staff look
    UNKNOWN_PAYMENT = "unknown_payment"  # no payment of ours has this out_trade_no
    ORDER_NOT_PAYABLE = "order_not_payable"  # money taken for an order already cancelled or paid: staff refund


@transaction.atomic
def payment_paid_record(
    *, out_trade_no: str, transaction_id: str, amount_fen: int, paid_at: datetime, reason: str
) -> PaidOutcome:
    """Mark a payment and its order paid once, whoever tells us first (notification, orderquery, the bill).

    Locks the order, then the payment — the order every payment path takes, so none deadlocks.
    """
    order_id = Payment.objects.filter(out_trade_no=out_trade_no).values_list("order_id", flat=True).first()
    if order_id is None:
        return PaidOutcome.UNKNOWN_PAYMENT
    order = Order.objects.select_for_update().get(pk=order_id)
    payment = Payment.objects.select_for_update().get(out_trade_no=out_trade_no)
    if payment.status == PaymentStatus.PAID:
        return PaidOutcome.DUPLICATE
    if amount_fen != payment.amount_fen:
        return PaidOutcome.AMOUNT_MISMATCH
    if not order_transition_allowed(from_status=order.status, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT):
        return PaidOutcome.ORDER_NOT_PAYABLE
    payment.status = PaymentStatus.PAID
    payment.transaction_id = transaction_id
    payment.paid_at = paid_at
    payment.save(update_fields=["status", "transaction_id", "paid_at"])
    _order_status_set(order=order, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT, reason=reason)
    _sales_count_add(order_id=order.pk)
    return PaidOutcome.APPLIED


def _sales_count_add(*, order_id: int) -> None:
    # In product id order, so two payments touching the same products never deadlock.
    sold = (
        OrderLine.objects.filter(order_id=order_id)
        .values("sku__product_id")
        .annotate(units=Sum("quantity"))
        .order_by("sku__product_id")
    )
    for row in sold:
        Product.objects.filter(pk=row["sku__product_id"]).update(sales_count=F("sales_count") + row["units"])
