"""Orders reach `completed`: the buyer confirms receipt (in our Mini Program or in WeChat), or time runs out.

Every way goes through the order status machine, with an event saying who and how. A shipped order
and one partly refunded after shipping may complete; a completed order can still be refunded by staff
(the machine allows completed → refunding).
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.status_machine import StatusActor
from customers.models import Customer
from orders.models import Order, OrderStatus, Payment
from orders.selectors import order_for_customer
from orders.services.status import ORDER_STATUS, order_status_set, order_status_set_many
from orders.shipping_exceptions import OrderNotShipped
from wechat.miniprogram_push import OrderSettlement

COMPLETABLE_STATUSES = (OrderStatus.SHIPPED, OrderStatus.PARTIALLY_REFUNDED)
# Orders completed by one transaction of the beat task: short locks, however many are due.
AUTO_COMPLETE_BATCH = 500


def _completable(order: Order) -> bool:
    return order.status in COMPLETABLE_STATUSES and order.shipped_at is not None


@transaction.atomic
def order_receipt_confirm(*, customer: Customer, order_no: str) -> Order:
    """The buyer confirms they received the order; a second confirmation changes nothing.

    Raises OrderNotFound (not theirs) or OrderNotShipped.
    """
    order = ORDER_STATUS.lock(order_for_customer(customer=customer, order_no=order_no).pk)
    if order.status == OrderStatus.COMPLETED:
        return order
    if not _completable(order):
        raise OrderNotShipped()
    order_status_set(
        order=order, to_status=OrderStatus.COMPLETED, actor=StatusActor.CUSTOMER, reason=_("buyer confirmed receipt")
    )
    return order


def orders_complete_overdue(*, now=None) -> int:
    """Complete shipped orders ORDER_AUTO_COMPLETE_DAYS after they shipped, in batches; returns how many.

    Rows another transaction holds are skipped (skip_locked) and picked up by the next run.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.ORDER_AUTO_COMPLETE_DAYS)
    completed = 0
    while True:
        with transaction.atomic():
            due = Order.objects.filter(status=OrderStatus.SHIPPED, shipped_at__lte=cutoff).order_by("shipped_at")
            batch = ORDER_STATUS.lock_many(due[:AUTO_COMPLETE_BATCH], skip_locked=True)
            order_status_set_many(
                orders=batch,
                to_status=OrderStatus.COMPLETED,
                actor=StatusActor.SYSTEM,
                reason=_("completed automatically %(days)s days after shipping")
                % {"days": f"{settings.ORDER_AUTO_COMPLETE_DAYS:g}"},
            )
        completed += len(batch)
        if len(batch) < AUTO_COMPLETE_BATCH:
            return completed


@transaction.atomic
def order_complete_from_wechat(*, settlement: OrderSettlement) -> Order | None:
    """WeChat's shipping service says the buyer's receipt is confirmed: complete the order (once).

    confirm_receive_method: 1 confirmed automatically by WeChat, 2 by the buyer (九、相关消息推送; some
    developers report the two swapped in practice, so the reason names the number as WeChat sent it).
    """
    if not settlement.receipt_confirmed:
        return None  # the push at shipping, not at settlement
    payments = Payment.objects.all()
    if settlement.transaction_id:
        payment = payments.filter(transaction_id=settlement.transaction_id).first()
    else:
        payment = payments.filter(out_trade_no=settlement.merchant_trade_no).first()
    if payment is None:
        return None
    order = ORDER_STATUS.lock(payment.order_id)
    if not _completable(order):
        return order  # completed already (a repeat), or refunded meanwhile: nothing to do
    by_buyer = settlement.confirm_receive_method == 2
    order_status_set(
        order=order,
        to_status=OrderStatus.COMPLETED,
        actor=StatusActor.CUSTOMER if by_buyer else StatusActor.SYSTEM,
        reason=_("receipt confirmed in WeChat (confirm_receive_method %(method)s)")
        % {"method": settlement.confirm_receive_method},
    )
    return order
