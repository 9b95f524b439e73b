"""Recording that WeChat Pay took the money for one of our payments: the order is marked paid exactly once.

Every path that learns of a payment (the notification, orderquery when the client says it paid,
the expiry task, reconciliation) ends in `payment_paid_record`.
"""

import enum
import logging
import re
from dataclasses import replace
from datetime import datetime

from django.db import connection, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from catalog.models import Product, Sku
from catalog.services import product_detail_cache_invalidate
from config.status_machine import StatusActor
from customers.models import Customer
from orders.models import (
    NotificationOutcome,
    Order,
    OrderActor,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentNotification,
    PaymentStatus,
)
from orders.selectors import order_for_customer
from orders.services.payment_notification_in_database import (
    MADE_BEFORE_MERCHANTS,
    MADE_THROUGH_ANOTHER,
    SIGN_TYPE_DIFFERS,
    UNKNOWN_PAYMENT,
    payment_notification_apply_in_database,
    payment_notification_apply_in_database_supported,
)
from orders.services.payment_status import PAYMENT_STATUS, payment_status_set
from orders.services.status import order_status_set
from wechat.errors import WeChatError, WeChatMisconfigured
from wechat.merchants import mini_program_default, payment_parties
from wechat.pay.gateway import merchant_config, payment_gateway
from wechat.pay.interface import MerchantConfig, PaymentGateway
from wechat.pay.interface import OrderStatus as WeChatOrderStatus
from wechat.pay.interface import PaymentNotification as Notice
from wechat.pay.v2 import BEIJING

logger = logging.getLogger(__name__)
P = PaymentStatus

# 统一下单 out_trade_no: 32个字符内，只能是数字、大小写字母_-|*@
OUT_TRADE_NO_PATTERN = re.compile(r"[A-Za-z0-9_\-|*@]{1,32}")
# 查询订单 trade_state values meaning WeChat took the money (REFUND: taken, then a refund began).
PAID_TRADE_STATES = frozenset({"SUCCESS", "REFUND"})
# 统一下单 fee_type: we ask for CNY (WeChat's default), so a payment in anything else is not ours.
PAYMENT_CURRENCY = "CNY"


class PaidOutcome(enum.StrEnum):
    APPLIED = "applied"  # the payment and its order are paid now
    DUPLICATE = "duplicate"  # already recorded: nothing changed
    AMOUNT_MISMATCH = "amount_mismatch"  # WeChat's amount is not ours: never marked paid, staff look
    UNKNOWN_PAYMENT = "unknown_payment"  # no payment of ours has this out_trade_no
    ORDER_NOT_PAYABLE = "order_not_payable"  # money taken for an order already cancelled or paid: staff refund


class PaymentNotificationRefused(Exception):
    """A verified notification we cannot trust or place; answered FAIL and not stored."""


@transaction.atomic
def payment_paid_record(
    *, out_trade_no: str, transaction_id: str, amount_fen: int, paid_at: datetime, reason: str
) -> PaidOutcome:
    """Mark a payment and its order paid once, whoever tells us first (notification, orderquery, the bill)."""
    locked = _order_and_payment_lock(out_trade_no=out_trade_no)
    if locked is None:
        return PaidOutcome.UNKNOWN_PAYMENT
    order, payment = locked
    return _payment_paid_apply(
        order=order,
        payment=payment,
        transaction_id=transaction_id,
        amount_fen=amount_fen,
        paid_at=paid_at,
        reason=reason,
    )


def _order_and_payment_lock(*, out_trade_no: str) -> tuple[Order, Payment] | None:
    """The payment `out_trade_no` and its order, both locked, read in one statement; None when it is not ours.

    The order's row is locked first, then the payment's — the order every payment path takes, so
    none deadlocks: PostgreSQL locks a statement's rows table by table in the order its FROM names
    them, and this one reads FROM the order, joined to the payment. Both rows come back as they
    are once locked, a concurrent change included (SQLite's transaction holds the whole database).
    """
    payment_fields = [field.attname for field in Payment._meta.concrete_fields]
    order = (
        Order.objects.select_for_update()
        .filter(payments__out_trade_no=out_trade_no)
        .annotate(**{f"locked_payment_{name}": F(f"payments__{name}") for name in payment_fields})
        .order_by()
        .first()
    )
    if order is None:
        return None
    payment = Payment.from_db(
        order._state.db, payment_fields, [getattr(order, f"locked_payment_{name}") for name in payment_fields]
    )
    return order, payment


def _payment_paid_apply(
    *,
    order: Order,
    payment: Payment,
    transaction_id: str,
    amount_fen: int,
    paid_at: datetime,
    reason: str,
    sales_count: bool = True,
) -> PaidOutcome:
    """payment_paid_record's work on the order and payment the caller locked (_order_and_payment_lock).

    `sales_count=False` leaves the order's products' sales count to the caller, which must call
    `_sales_count_add` in the same transaction when this returns APPLIED: as its last statement, so
    that the product rows, which every payment for the product updates, stay locked only until COMMIT.
    """
    # The amount first: a signed message naming another amount is flagged even when we are paid already.
    if amount_fen != payment.amount_fen:
        return PaidOutcome.AMOUNT_MISMATCH
    if payment.status == P.PAID:
        return PaidOutcome.DUPLICATE
    # Only an order awaiting payment: other statuses may allow a move to paid (a refund WeChat refused
    # takes an order back), but that is not this payment's doing, and a second paid payment would break
    # the one-paid-payment-per-order constraint.
    if order.status != OrderStatus.PENDING_PAYMENT or not PAYMENT_STATUS.allows(
        from_status=payment.status, to_status=P.PAID, actor=StatusActor.PAYMENT
    ):
        return PaidOutcome.ORDER_NOT_PAYABLE
    payment_status_set(
        payment=payment,
        to_status=P.PAID,
        actor=StatusActor.PAYMENT,
        reason=reason,
        transaction_id=transaction_id,
        paid_at=paid_at,
    )
    order_status_set(order=order, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT, reason=reason)
    if sales_count:
        _sales_count_add(order_id=order.pk)
    return PaidOutcome.APPLIED


# The order's units per product added to their sales count in one round trip: the products' rows
# locked in id order first (ORDER BY below FOR UPDATE locks them as sorted), so two payments touching
# the same products never deadlock. PostgreSQL only; other databases take _sales_count_add's ORM path.
_SALES_COUNT_ADD_SQL = """
WITH sold AS (
    SELECT sku.product_id, SUM(line.quantity) AS units
    FROM {line} line JOIN {sku} sku ON sku.id = line.sku_id
    WHERE line.order_id = %s
    GROUP BY sku.product_id
), locked AS (
    SELECT product.id FROM {product} product
    WHERE product.id IN (SELECT product_id FROM sold)
    ORDER BY product.id
    FOR UPDATE
)
UPDATE {product} product SET sales_count = product.sales_count + sold.units
FROM sold, locked
WHERE product.id = sold.product_id AND locked.id = sold.product_id
RETURNING product.id
"""


def _sales_count_add(*, order_id: int) -> None:
    if connection.vendor == "postgresql":
        sql = _SALES_COUNT_ADD_SQL.format(
            line=OrderLine._meta.db_table, sku=Sku._meta.db_table, product=Product._meta.db_table
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [order_id])
            product_ids = [row[0] for row in cursor.fetchall()]
        product_detail_cache_invalidate(product_ids=product_ids)  # the detail shows sales
        return
    # In product id order, so two payments touching the same products never deadlock.
    sold = list(
        OrderLine.objects.filter(order_id=order_id)
        .values("sku__product_id")
        .annotate(units=Sum("quantity"))
        .order_by("sku__product_id")
    )
    product_detail_cache_invalidate(product_ids=[row["sku__product_id"] for row in sold])  # the detail shows sales
    for row in sold:
        Product.objects.filter(pk=row["sku__product_id"]).update(sales_count=F("sales_count") + row["units"])


# --- talking to WeChat about one payment -----------------------------------------------------


def payment_gateway_for(*, payment: Payment) -> PaymentGateway:
    """The gateway of the merchant one payment was made through, signing and verifying as it was made."""
    return payment_gateway_for_merchant(appid=payment.appid, mch_id=payment.mch_id, sign_type=payment.sign_type)


def payment_gateway_for_merchant(*, appid: str, mch_id: str, sign_type: str) -> PaymentGateway:
    """The gateway of Mini Program `appid` paying through merchant `mch_id` (blank: the settings' default)."""
    if not appid:
        config: MerchantConfig = merchant_config(mini_program_default())
    elif parties := payment_parties(appid=appid, mch_id=mch_id):
        mini_program, merchant = parties
        config = merchant_config(mini_program, merchant=merchant)
    else:
        raise WeChatMisconfigured(f"Mini Program {appid} or merchant {mch_id} is no longer ours")
    return payment_gateway(replace(config, sign_type=sign_type))


def payment_made_through(*, payment: Payment, appid: str | None, mch_id: str) -> bool:
    """Whether `payment` was made through Mini Program `appid` and merchant `mch_id` (appid None: any of its apps)."""
    if payment.appid:
        made_through = (payment.appid, payment.mch_id)
    else:
        default = mini_program_default()  # made before merchants were rows: through the settings' default
        made_through = (default.appid, default.merchant.mch_id)
    return made_through == (made_through[0] if appid is None else appid, mch_id)


def wechat_time(text: str | None) -> datetime:
    """WeChat Pay's yyyyMMddHHmmss (Beijing time) as an aware datetime; now when absent or malformed."""
    try:
        return datetime.strptime(text or "", "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
    except ValueError:
        return timezone.now()


def payment_paid_record_from_query(*, payment: Payment, status: WeChatOrderStatus, reason: str) -> PaidOutcome:
    """Record what orderquery said about a paid payment (call only for PAID_TRADE_STATES)."""
    outcome = payment_paid_record(
        out_trade_no=payment.out_trade_no,
        transaction_id=status.transaction_id or "",
        amount_fen=status.total_fee,
        paid_at=wechat_time(status.time_end),
        reason=reason,
    )
    if outcome not in (PaidOutcome.APPLIED, PaidOutcome.DUPLICATE):
        logger.error("WeChat reports payment %s paid, but we could not apply it: %s", payment.out_trade_no, outcome)
    return outcome


def payment_confirm_at_wechat(*, payment: Payment, reason: str) -> PaidOutcome | None:
    """Ask WeChat (pay/orderquery) whether `payment` was paid and record it if so; None when it was not.

    Raises the gateway's WeChatError; never call inside a transaction.
    """
    status = payment_gateway_for(payment=payment).order_query(payment.out_trade_no)
    if status.trade_state not in PAID_TRADE_STATES:
        return None
    return payment_paid_record_from_query(payment=payment, status=status, reason=reason)


# --- the payment notification -----------------------------------------------------------------


def payment_notification_receive(*, notification: Notice) -> NotificationOutcome:
    """A payment notification whose signature wechat/ verified: placed with its payment, applied once, stored.

    Raises PaymentNotificationRefused for one we cannot place, or signed otherwise than its payment
    was (not stored: it is nobody's record); any other is always stored. On PostgreSQL the whole of
    it is one statement (orders_payment_notification_apply, orders' migration 0028); elsewhere, and
    for payments made before merchants were rows, the ORM's steps below
    (tests/orders/test_pay_notification_round_trips.py counts them).
    """
    out_trade_no = notification.out_trade_no
    # Checked before the database sees it: PostgreSQL refuses some characters (NUL) with an error.
    if not OUT_TRADE_NO_PATTERN.fullmatch(out_trade_no):
        raise PaymentNotificationRefused(f"no payment {out_trade_no[:32]!r}")
    if payment_notification_apply_in_database_supported():
        outcome = payment_notification_apply_in_database(
            notice=notification,
            paid_at=wechat_time(notification.time_end),
            reason=_("WeChat Pay payment notification"),
            currency=PAYMENT_CURRENCY,
        )
        if outcome != MADE_BEFORE_MERCHANTS:
            return _payment_notification_outcome(out_trade_no=out_trade_no, outcome=outcome)
    return _payment_notification_receive_through_orm(notification=notification)


def _payment_notification_outcome(*, out_trade_no: str, outcome: NotificationOutcome | str) -> NotificationOutcome:
    """The outcome, logged for staff if they must act; a refusal raised as PaymentNotificationRefused."""
    if outcome == UNKNOWN_PAYMENT:
        raise PaymentNotificationRefused(f"no payment {out_trade_no!r}")
    if outcome == SIGN_TYPE_DIFFERS:
        raise PaymentNotificationRefused("payment notification signature does not match")
    if outcome == MADE_THROUGH_ANOTHER:
        raise PaymentNotificationRefused("payment notification is from another app or merchant than the payment's")
    if outcome in PaymentNotification.NEEDS_ATTENTION:
        logger.error("payment notification for %s needs staff: %s", out_trade_no, NotificationOutcome(outcome).label)
    return NotificationOutcome(outcome)


@transaction.atomic
def _payment_notification_receive_through_orm(*, notification: Notice) -> NotificationOutcome:
    """payment_notification_receive in the ORM's steps: the payment read as it is locked with its order."""
    locked = _order_and_payment_lock(out_trade_no=notification.out_trade_no)
    if locked is None:
        return _payment_notification_outcome(out_trade_no=notification.out_trade_no, outcome=UNKNOWN_PAYMENT)
    order, payment = locked
    # Signed as the order was, and it may not say how: the sign type we recorded decides.
    if notification.sign_type != payment.sign_type:
        return _payment_notification_outcome(out_trade_no=notification.out_trade_no, outcome=SIGN_TYPE_DIFFERS)
    # Verified with the keys of the merchant it names, which must be the one the payment was made through.
    if not payment_made_through(payment=payment, appid=notification.appid, mch_id=notification.mch_id):
        return _payment_notification_outcome(out_trade_no=notification.out_trade_no, outcome=MADE_THROUGH_ANOTHER)
    outcome = _payment_notification_record(order=order, payment=payment, notice=notification)
    return _payment_notification_outcome(out_trade_no=notification.out_trade_no, outcome=outcome)


def _payment_notification_record(*, order: Order, payment: Payment, notice: Notice) -> NotificationOutcome:
    """Apply a verified notification to the order and payment the caller locked, and append it."""
    if notice.result_code != "SUCCESS":
        outcome = NotificationOutcome.NOT_PAID
    elif notice.fee_type != PAYMENT_CURRENCY:
        # Our amounts are fen of yuan: the same number in another currency is another amount.
        outcome = NotificationOutcome.AMOUNT_MISMATCH
    else:
        paid = _payment_paid_apply(
            order=order,
            payment=payment,
            transaction_id=notice.transaction_id,
            amount_fen=notice.total_fee,
            paid_at=wechat_time(notice.time_end),
            reason=_("WeChat Pay payment notification"),
            sales_count=False,
        )
        outcome = NotificationOutcome(paid.value)
    PaymentNotification.objects.create(
        payment=payment,
        out_trade_no=notice.out_trade_no,
        transaction_id=notice.transaction_id,
        total_fee=notice.total_fee,
        result_code=notice.result_code,
        outcome=outcome,
        raw_body=notice.raw_body,
    )
    if outcome == NotificationOutcome.APPLIED:
        _sales_count_add(order_id=order.pk)  # last: the products' rows stay locked only until COMMIT
    return outcome


# --- asking WeChat before we give up on a payment ----------------------------------------------


def order_payment_check(*, customer: Customer, order_no: str) -> Order:
    """The customer's order, after asking WeChat Pay about it if it still awaits payment (POST .../check-payment)."""
    order = order_for_customer(customer=customer, order_no=order_no)
    if order.status == OrderStatus.PENDING_PAYMENT and order_payments_confirm(order_id=order.pk):
        order = order_for_customer(customer=customer, order_no=order_no)  # paid now, with that in its timeline
    return order


def order_payments_confirm(*, order_id: int) -> bool:
    """The client says it paid: ask WeChat about payments no notification has reached.

    Returns whether the order was found paid. WeChat being unreachable changes nothing: the
    notification or the next check will tell. Never call inside a transaction.
    """
    unheard = (
        Payment.objects.filter(order_id=order_id, order__status=OrderStatus.PENDING_PAYMENT, status=P.PENDING)
        .exclude(prepay_id="")
        .filter(notifications__isnull=True)
    )
    for payment in unheard:
        try:
            outcome = payment_confirm_at_wechat(payment=payment, reason=_("orderquery: the customer says they paid"))
        except WeChatError as error:
            logger.warning("could not ask WeChat Pay about %s: %s", payment.out_trade_no, error)
            continue
        if outcome in (PaidOutcome.APPLIED, PaidOutcome.DUPLICATE):
            return True
    return False
