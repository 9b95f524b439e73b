"""Prepay: the parameters the Mini Program hands to wx.requestPayment, from WeChat Pay's 统一下单 (JSAPI).

A payment row per attempt, numbered `<order_no><attempt, 2 digits>` (WeChat's out_trade_no: at
most 32 letters and digits). WeChat is called outside every transaction. Concurrent requests for
one order share one attempt (the order's row lock decides), and WeChat answers a repeated
unified order with the same out_trade_no and parameters with the same prepay_id, so they all
hand out one prepay.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from customers.selectors import customer_mini_program
from orders.exceptions import OrderNotPayable, PaymentMisconfigured, PaymentUnavailable
from orders.models import Order, OrderLine, OrderStatus, Payment, PaymentStatus
from orders.services.payment_status import payment_started_record, payment_status_change
from orders.services.payments import payment_confirm_at_wechat, payment_gateway_for_merchant
from wechat.errors import WeChatError, WeChatMisconfigured, WeChatPermanentError, WeChatTransientError
from wechat.models import Merchant
from wechat.pay.interface import TIME_EXPIRE_MIN_AHEAD, PrepayResult
from wechat.pay.notify_urls import payment_notify_url
from wechat.pay.v3_signing import PAY_SIGN_TYPE as V3_SIGN_TYPE
from wechat.retry import retry_transient

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 99  # two digits after the order number
PREPAY_VALID = timedelta(hours=2)  # 统一下单: prepay_id 有效期为2小时
# A new unified order's time_expire (the order's expiry) is at least this far ahead: WeChat's 5 minutes,
# and half a minute more for the call itself and a clock a little apart from WeChat's.
NEW_PREPAY_MIN_LEFT = TIME_EXPIRE_MIN_AHEAD + timedelta(seconds=30)
BODY_MAX_BYTES = 128  # 统一下单 body: String(128)


@dataclass(frozen=True)
class PrepayAttempt:
    payment_id: int
    out_trade_no: str
    sign_type: str
    appid: str
    mch_id: str
    amount_fen: int
    prepay_id: str  # empty until WeChat gave one
    openid: str
    description: str
    expires_at: datetime


def payment_prepay(*, order: Order, client_ip: str) -> dict[str, str]:
    """wx.requestPayment's parameters for `order`: the valid prepay again, re-signed, or a new one.

    Raises OrderNotPayable (paid, cancelled, expired or about to), PaymentUnavailable (WeChat
    busy or refusing) or PaymentMisconfigured.
    """
    attempt = _prepay_attempt_claim(order_id=order.pk)
    gateway = payment_gateway_for_merchant(appid=attempt.appid, mch_id=attempt.mch_id, sign_type=attempt.sign_type)
    if attempt.prepay_id:
        return gateway.payment_parameters(PrepayResult(prepay_id=attempt.prepay_id, sign_type=attempt.sign_type))
    try:
        prepay = retry_transient(
            lambda: gateway.prepay(
                out_trade_no=attempt.out_trade_no,
                total_fee=attempt.amount_fen,
                openid=attempt.openid,
                body=attempt.description,
                notify_url=payment_notify_url(mch_id=attempt.mch_id),
                time_expire=attempt.expires_at,
                client_ip=client_ip,
            )
        )
    except WeChatError as error:
        _prepay_refused(attempt=attempt, error=error)
        raise  # _prepay_refused always raises; this keeps type checkers sure
    now = timezone.now()
    Payment.objects.filter(pk=attempt.payment_id, status=PaymentStatus.PENDING).update(
        prepay_id=prepay.prepay_id, prepay_expires_at=min(now + PREPAY_VALID, attempt.expires_at)
    )
    return gateway.payment_parameters(prepay)


@transaction.atomic
def _prepay_attempt_claim(*, order_id: int) -> PrepayAttempt:
    """The attempt to prepay under the order's lock: the current one if it can still be used, else a new one."""
    order = Order.objects.select_for_update().select_related("customer").get(pk=order_id)
    now = timezone.now()
    if order.status != OrderStatus.PENDING_PAYMENT or order.expires_at <= now:
        raise OrderNotPayable(_not_payable_message(order, now))
    latest = order.payments.order_by("-id").first()
    too_near_the_end = order.expires_at - now < NEW_PREPAY_MIN_LEFT
    if latest is not None and latest.status == PaymentStatus.PENDING:
        if latest.prepay_id and latest.prepay_expires_at and latest.prepay_expires_at > now:
            return _attempt(order, latest, prepay_id=latest.prepay_id)
        if not too_near_the_end:
            # Its prepay lapsed or never came: WeChat gives it (again, or anew) for the same out_trade_no.
            return _attempt(order, _prepay_requested(latest, now), prepay_id="")
        # Asked again, this out_trade_no would carry a later time_expire, which WeChat refuses for a
        # repeated unified order ("201 商户订单号重复"): a new attempt instead; expiry settles this one.
    if too_near_the_end:
        _order_expiry_extend_for_prepay(order, now)
    attempt_number = order.payments.count() + 1
    if attempt_number > MAX_ATTEMPTS:
        raise OrderNotPayable(_("This order cannot be paid any more: too many payment attempts."))
    # Paid through the merchant of the Mini Program the customer logged in through, signed its way.
    mini_program = customer_mini_program(customer=order.customer)
    merchant = mini_program.merchant
    payment = Payment.objects.create(
        order=order,
        out_trade_no=f"{order.order_no}{attempt_number:02d}",
        amount_fen=order.total_fen,
        # v3 signs one way (RSA); a v2 merchant signs with its sign type, and WeChat signs back the same.
        sign_type=V3_SIGN_TYPE if merchant.api_version == Merchant.ApiVersion.V3 else merchant.sign_type,
        appid=mini_program.appid,
        mch_id=mini_program.merchant.mch_id,
        prepay_requested_at=now,
    )
    payment_started_record(payment=payment)
    return _attempt(order, payment, prepay_id="")


def _order_expiry_extend_for_prepay(order: Order, now: datetime) -> None:
    """Asked to pay near the end of its window, the order waits for the prepay WeChat allows (5 minutes).

    WeChat refuses a time_expire sooner than that; rather than fail the shopper, their stock stays held
    a little longer. The expiry task reads the new deadline like any other.
    """
    extended_to = now + NEW_PREPAY_MIN_LEFT
    logger.info("order %s: expiry %s extended to %s for a prepay", order.order_no, order.expires_at, extended_to)
    order.expires_at = extended_to
    order.save(update_fields=["expires_at"])


def _prepay_requested(payment: Payment, now: datetime) -> Payment:
    payment.prepay_requested_at = now
    payment.save(update_fields=["prepay_requested_at"])
    return payment


def _attempt(order: Order, payment: Payment, *, prepay_id: str) -> PrepayAttempt:
    return PrepayAttempt(
        payment_id=payment.pk,
        out_trade_no=payment.out_trade_no,
        sign_type=payment.sign_type,
        appid=payment.appid,
        mch_id=payment.mch_id,
        amount_fen=payment.amount_fen,
        prepay_id=prepay_id,
        openid=order.customer.openid,
        description=_order_description(order.pk),
        expires_at=order.expires_at,
    )


def _order_description(order_id: int) -> str:
    """统一下单 body: the first item's title, and how many more; the same every time for one order.

    A repeated unified order must repeat its parameters, so this depends on the order's lines only.
    """
    titles = list(OrderLine.objects.filter(order_id=order_id).order_by("id").values_list("title", flat=True))
    more = f" 等{len(titles)}件商品" if len(titles) > 1 else ""
    title = titles[0] if titles else "订单"
    while len((title + more).encode()) > BODY_MAX_BYTES:
        title = title[:-1]
    return title + more


def _not_payable_message(order: Order, now: datetime) -> str:
    if order.status == OrderStatus.PENDING_PAYMENT:
        return "The time to pay this order is over."
    if order.status == OrderStatus.CANCELLED:
        return "This order is cancelled."
    if order.status == OrderStatus.EXPIRED:
        return "This order expired unpaid."
    return "This order is already paid."


def _prepay_refused(*, attempt: PrepayAttempt, error: WeChatError) -> None:
    """Turn WeChat's refusal of a unified order into our answer, settling the attempt first."""
    if error.errcode == "ORDERPAID":
        # Paid at WeChat and we missed it (no notification yet): confirm with orderquery and record it.
        payment = Payment.objects.get(pk=attempt.payment_id)
        try:
            payment_confirm_at_wechat(payment=payment, reason=_("unified order answered ORDERPAID"))
        except WeChatError as query_error:
            logger.warning("could not confirm paid order %s: %s", attempt.out_trade_no, query_error)
        raise OrderNotPayable(_("This order is already paid.")) from error
    if error.errcode == "ORDERCLOSED":
        payment_status_change(
            payment_id=attempt.payment_id,
            to_status=PaymentStatus.CLOSED,
            reason=_("unified order answered ORDERCLOSED"),
        )
        raise OrderNotPayable(_("This order's payment was closed.")) from error
    if isinstance(error, WeChatTransientError):
        logger.warning("WeChat Pay busy for unified order %s: %s", attempt.out_trade_no, error)
        raise PaymentUnavailable() from error
    if isinstance(error, WeChatMisconfigured):
        logger.error("WeChat Pay refuses our configuration (unified order %s): %s", attempt.out_trade_no, error)
        raise PaymentMisconfigured() from error
    if isinstance(error, WeChatPermanentError):
        # WeChat will not take this attempt as it stands: the next request starts another one.
        logger.error("WeChat Pay refused unified order %s: %s", attempt.out_trade_no, error)
        payment_status_change(
            payment_id=attempt.payment_id,
            to_status=PaymentStatus.FAILED,
            reason=_("unified order refused: %(error)s") % {"error": error},
        )
    raise PaymentUnavailable() from error
