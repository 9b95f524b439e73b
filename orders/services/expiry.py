"""Order expiry: unpaid orders past their deadline expire, closed at WeChat Pay first, their stock returned once.

Orders that never reached WeChat Pay expire in a batch under their row locks; those with a
payment open at WeChat are asked about (pay/orderquery) and closed there (pay/closeorder)
outside any transaction, so one paid at the last second is marked paid, never expired.
"""

import enum
import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.status_machine import StatusActor
from orders.models import Order, OrderActor, OrderStatus, Payment, PaymentStatus
from orders.services.payment_status import payment_status_change
from orders.services.payments import PAID_TRADE_STATES, PaidOutcome, payment_gateway_for, payment_paid_record_from_query
from orders.services.status import ORDER_STATUS, order_status_set, order_status_set_many
from wechat.errors import WeChatError
from wechat.pay.interface import CLOSE_MIN_AGE, PaymentGateway
from wechat.pay.interface import OrderStatus as WeChatOrderStatus

logger = logging.getLogger(__name__)
S, A, P = OrderStatus, OrderActor, PaymentStatus

EXPIRY_BATCH_SIZE = 100
EXPIRY_MAX_BATCHES = 50
# A payment in these may still be paid at WeChat: it is settled there before its order expires.
OPEN_AT_WECHAT = (P.PENDING, P.FAILED)


def orders_expire_overdue(*, batch_size: int = EXPIRY_BATCH_SIZE, max_batches: int = EXPIRY_MAX_BATCHES) -> int:
    """Expire unpaid orders past their deadline and return their stock; returns how many expired.

    Each batch is its own short transaction and skips rows another run (or a cancel, or a
    payment) holds, so runs overlap safely and none waits on another. Orders that never
    reached WeChat Pay expire in the batch; those with a payment at WeChat are asked about
    first and closed there, outside any transaction. What is left after `max_batches` waits
    for the next run.
    """
    expired = 0
    asked_wechat: set[int] = set()  # orders this run has settled at WeChat (or must retry next run)
    for _batch in range(max_batches):
        claimed, expired_in_batch, at_wechat = _orders_expire_batch(batch_size=batch_size, skip_ids=asked_wechat)
        expired += expired_in_batch
        for order_id in at_wechat:
            asked_wechat.add(order_id)
            if order_payments_close_at_wechat(order_id=order_id) == Settlement.CLOSED:
                expired += _order_expire_closed(order_id=order_id)
        if claimed < batch_size:
            break
    return expired


@transaction.atomic
def _orders_expire_batch(*, batch_size: int, skip_ids: set[int]) -> tuple[int, int, list[int]]:
    """Claim a batch of overdue orders: expire those with no payment open at WeChat, return the others' ids.

    Returns (claimed, expired, ids of orders to settle at WeChat first).
    """
    overdue = ORDER_STATUS.lock_many(
        Order.objects.filter(status=S.PENDING_PAYMENT, expires_at__lte=timezone.now())
        .exclude(pk__in=skip_ids)
        .order_by("expires_at", "id")[:batch_size],
        skip_locked=True,
    )
    at_wechat = set(
        Payment.objects.filter(order_id__in=[order.pk for order in overdue], status__in=OPEN_AT_WECHAT).values_list(
            "order_id", flat=True
        )
    )
    expiring = [order for order in overdue if order.pk not in at_wechat]
    # The batch's status changes in a few statements, not a few per order, and its stock returns in one pass.
    order_status_set_many(orders=expiring, to_status=S.EXPIRED, actor=A.SYSTEM, reason=_("not paid in time"))
    return len(overdue), len(expiring), [order.pk for order in overdue if order.pk in at_wechat]


@transaction.atomic
def _order_expire_closed(*, order_id: int) -> int:
    """Expire one order whose payments are closed at WeChat; 0 if a payment or a cancel came first."""
    order = ORDER_STATUS.lock(order_id)
    still_open = order.payments.filter(status__in=OPEN_AT_WECHAT).exists()
    if order.status != S.PENDING_PAYMENT or order.expires_at > timezone.now() or still_open:
        return 0
    order_status_set(
        order=order, to_status=S.EXPIRED, actor=A.SYSTEM, reason=_("not paid in time; closed at WeChat Pay")
    )
    return 1


# --- asking WeChat before an order expires ------------------------------------------------------


class Settlement(enum.StrEnum):
    PAID = "paid"  # WeChat had taken the money: the order is paid, never to be expired
    CLOSED = "closed"  # closed at WeChat: nobody can pay any more, the order may expire
    WAIT = "wait"  # WeChat unreachable, the user mid-payment, or a discrepancy: try next run


def order_payments_close_at_wechat(*, order_id: int) -> Settlement:
    """Before an overdue order expires: query each of its open payments, close the unpaid ones at WeChat.

    Query first, close second (pay/closeorder), so a payment made at the last second is found;
    ORDERPAID on close means it was paid between the two, and orderquery's data records it.
    Never call inside a transaction.
    """
    for payment in Payment.objects.filter(order_id=order_id, status__in=OPEN_AT_WECHAT).order_by("id"):
        settlement = _payment_close_at_wechat(payment)
        if settlement != Settlement.CLOSED:
            return settlement
    return Settlement.CLOSED


def _payment_close_at_wechat(payment: Payment) -> Settlement:
    gateway = payment_gateway_for(payment=payment)
    try:
        status = gateway.order_query(payment.out_trade_no)
    except WeChatError as error:
        if error.errcode != "ORDERNOTEXIST":
            logger.warning("expiry could not query %s at WeChat Pay: %s", payment.out_trade_no, error)
            return Settlement.WAIT
        status = None  # the unified order never reached WeChat: nothing there to pay or close
    if status is not None and status.trade_state in PAID_TRADE_STATES:
        return _paid_settlement(payment, status, reason=_("orderquery before expiry: paid at WeChat"))
    if status is not None and status.trade_state == "USERPAYING":
        return Settlement.WAIT  # the user is entering their password; WeChat closes it at time_expire otherwise
    if status is not None and status.trade_state not in ("CLOSED", "REVOKED"):
        if _too_young_to_close(payment):
            return Settlement.WAIT  # WeChat would refuse the close: the next run, once it is old enough
        try:
            gateway.order_close(payment.out_trade_no)
        except WeChatError as error:
            if error.errcode == "ORDERPAID":
                return _paid_after_close_refused(payment, gateway)
            if error.errcode != "ORDERCLOSED":
                logger.warning("expiry could not close %s at WeChat Pay: %s", payment.out_trade_no, error)
                return Settlement.WAIT
    payment_status_change(
        payment_id=payment.pk,
        to_status=P.CLOSED,
        actor=StatusActor.SYSTEM,
        reason=_("closed at WeChat Pay before expiry"),
    )
    return Settlement.CLOSED


def _too_young_to_close(payment: Payment) -> bool:
    """WeChat closes no order younger than 5 minutes; ours is as young as our last unified order request."""
    requested_at = payment.prepay_requested_at
    return requested_at is not None and timezone.now() < requested_at + CLOSE_MIN_AGE


def _paid_after_close_refused(payment: Payment, gateway: PaymentGateway) -> Settlement:
    try:
        status = gateway.order_query(payment.out_trade_no)
    except WeChatError as error:
        logger.warning("closing %s: WeChat says paid, but orderquery failed: %s", payment.out_trade_no, error)
        return Settlement.WAIT
    if status.trade_state not in PAID_TRADE_STATES:
        logger.error("closing %s: WeChat answered ORDERPAID but orderquery says %s", payment.out_trade_no, status)
        return Settlement.WAIT
    return _paid_settlement(payment, status, reason=_("closeorder answered ORDERPAID: paid at WeChat"))


def _paid_settlement(payment: Payment, status: WeChatOrderStatus, *, reason: str) -> Settlement:
    outcome = payment_paid_record_from_query(payment=payment, status=status, reason=reason)
    # Money taken that we could not apply (another amount, an order paid twice): staff decide, never expire it.
    return Settlement.PAID if outcome in (PaidOutcome.APPLIED, PaidOutcome.DUPLICATE) else Settlement.WAIT
