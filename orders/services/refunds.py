"""Refunds: asked for by staff, made at WeChat Pay (secapi/pay/refund) after commit, settled by notification or query.

Money never leaves twice and never more than was paid: `Payment.refunded_fen` counts every
refund that has not failed, raised under the payment's row lock and bounded by a database
constraint; each refund's `out_refund_no` makes a repeated call to WeChat the same refund.
Rows are locked in one order everywhere, order then payment then refund (the order
payment_paid_record takes too), so no two of these wait on each other in a circle.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from config import celery_app
from config.errors import ApplicationError
from config.money import format_fen
from config.status_machine import StatusActor
from orders.exceptions import (
    PaymentNotRefundable,
    RefundAmountInvalid,
    RefundExceedsPaid,
    RefundNotificationRejected,
)
from orders.models import Order, OrderStatus, Payment, PaymentStatus, Refund, RefundStatus
from orders.services.payments import payment_gateway_for, payment_made_through
from orders.services.refund_status import refund_requested_record, refund_status_set
from orders.services.status import order_transition
from wechat.errors import WeChatPermanentError, WeChatTransientError
from wechat.pay.interface import InvalidPayMessage, RefundNotification
from wechat.pay.notify_urls import refund_notify_url

logger = logging.getLogger(__name__)

UNSETTLED_STATUSES = (RefundStatus.REQUESTED, RefundStatus.PROCESSING)
# 退款结果通知 and 查询退款: refund_status SUCCESS went through; CHANGE (the account could not take it)
# and REFUNDCLOSE (closed) mean no money moved; PROCESSING is still under way.
WECHAT_REFUND_SUCCEEDED = "SUCCESS"
WECHAT_REFUND_FAILED = frozenset({"CHANGE", "REFUNDCLOSE"})
# What each ending means for staff (退款结果通知, refund_status).
WECHAT_REFUND_FAILED_WORDS = {
    "CHANGE": _(
        "the buyer's account could not take the money (CHANGE): nothing was refunded; "
        "refund by other means, e.g. from WeChat Pay's merchant platform"
    ),
    "REFUNDCLOSE": _("WeChat Pay closed the refund (REFUNDCLOSE): nothing was refunded"),
}
SETTLE_BATCH_SIZE = 100
SUBMIT_REFUND_TASK = "orders.tasks.submit_refund"


@transaction.atomic
def refund_request(
    *,
    payment_id: int | None = None,
    order_id: int | None = None,
    amount_fen: int,
    reason: str,
    staff_user: AbstractBaseUser | None,
) -> Refund:
    """Reserve `amount_fen` of a paid payment (by id, or the order's paid one) for a refund; WeChat is asked on commit.

    Raises RefundExceedsPaid past what is left to refund, PaymentNotRefundable for an unpaid
    payment, OrderTransitionNotAllowed when the order cannot be refunding (e.g. already refunded).
    """
    if (payment_id is None) == (order_id is None):
        raise TypeError("give payment_id or order_id")
    if amount_fen <= 0:
        raise RefundAmountInvalid(_("A refund is at least ¥0.01."))
    reason = reason.strip()
    if not reason:
        raise ApplicationError(_("Some fields are invalid."), fields={"reason": [_("Say why the order is refunded.")]})
    payments = (
        Payment.objects.filter(pk=payment_id)
        if payment_id is not None
        else Payment.objects.filter(order_id=order_id, status=PaymentStatus.PAID)
    )
    payment_order_id = payments.values_list("order_id", flat=True).first()
    if payment_order_id is None:
        raise PaymentNotRefundable()
    order = Order.objects.select_for_update().get(pk=payment_order_id)
    payment = payments.select_for_update().first()
    if payment is None or payment.status != PaymentStatus.PAID:
        raise PaymentNotRefundable()
    refundable_fen = payment.amount_fen - payment.refunded_fen
    if amount_fen > refundable_fen:
        raise RefundExceedsPaid(requested_fen=amount_fen, refundable_fen=refundable_fen)
    try:
        with transaction.atomic():  # the constraint refunded_fen <= amount_fen holds even if the check above did not
            Payment.objects.filter(pk=payment.pk).update(refunded_fen=F("refunded_fen") + amount_fen)
    except IntegrityError as error:
        raise RefundExceedsPaid(requested_fen=amount_fen, refundable_fen=refundable_fen) from error
    # Numbered under the order's and payment's locks: stable, unique, and within WeChat's 64 characters.
    sequence = Refund.objects.filter(payment=payment).count() + 1
    refund = Refund.objects.create(
        payment=payment,
        out_refund_no=f"{payment.out_trade_no}R{sequence:02d}",
        amount_fen=amount_fen,
        reason=reason[:80],
        requested_by=staff_user,
    )
    refund_requested_record(refund=refund, reason=reason, staff_user=staff_user)
    if order.status != OrderStatus.REFUNDING:  # a second refund while one is under way leaves it refunding
        order_transition(
            order_id=order.pk,
            to_status=OrderStatus.REFUNDING,
            actor=StatusActor.STAFF,
            staff_user=staff_user,
            reason=_("refund %(amount)s: %(reason)s") % {"amount": format_fen(amount_fen), "reason": reason},
        )
    # By name, not by importing orders.tasks: tasks call services, so a service importing the task
    # module would make a circle. A signature by name runs the registered task as `.delay` would
    # (eagerly too, when so configured), which `send_task` does not.
    transaction.on_commit(celery_app.signature(SUBMIT_REFUND_TASK, args=[refund.pk]).delay)
    return refund


def refund_submit(*, refund_id: int) -> None:
    """Ask WeChat for a requested refund (outside any transaction) and store its answer.

    A repeat is harmless: a refund no longer requested is left alone, and WeChat answers the same
    out_refund_no with the same refund. Transient errors propagate for the caller to retry; a
    permanent refusal fails the refund and gives its amount back.
    """
    refund = Refund.objects.select_related("payment").filter(pk=refund_id).first()
    if refund is None or refund.status != RefundStatus.REQUESTED:
        return
    try:
        result = payment_gateway_for(payment=refund.payment).refund(
            out_trade_no=refund.payment.out_trade_no,
            out_refund_no=refund.out_refund_no,
            total_fee=refund.payment.amount_fen,
            refund_fee=refund.amount_fen,
            notify_url=refund_notify_url(mch_id=refund.payment.mch_id),
        )
    except WeChatTransientError:
        raise
    except InvalidPayMessage:
        # An answer we cannot trust says nothing either way: WeChat may have made the refund. It stays
        # requested, its amount reserved, and is submitted again later (the same out_refund_no).
        logger.error("refund %s: WeChat's answer failed verification", refund.out_refund_no)
        raise
    except WeChatPermanentError as error:
        logger.warning("WeChat refused refund %s: %s", refund.out_refund_no, error)
        refund_settle(
            refund_id=refund.pk, succeeded=False, reason=_("WeChat refused the refund: %(error)s") % {"error": error}
        )
        return
    _refund_mark_processing(refund_id=refund.pk, wechat_refund_id=result.refund_id)


@transaction.atomic
def _refund_mark_processing(*, refund_id: int, wechat_refund_id: str) -> None:
    refund = Refund.objects.select_for_update().get(pk=refund_id)
    if refund.status != RefundStatus.REQUESTED:  # its notification came first
        return
    refund_status_set(
        refund=refund,
        to_status=RefundStatus.PROCESSING,
        reason=str(_("accepted by WeChat Pay")),
        extra_fields={"refund_id": wechat_refund_id},
    )


@transaction.atomic
def refund_settle(*, refund_id: int, succeeded: bool, reason: str, wechat_refund_id: str | None = None) -> bool:
    """Settle an unsettled refund as succeeded or failed (its amount given back), then its order; False if settled."""
    payment_id, order_id = Refund.objects.filter(pk=refund_id).values_list("payment_id", "payment__order_id").get()
    order = Order.objects.select_for_update().get(pk=order_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    refund = Refund.objects.select_for_update().get(pk=refund_id)
    if refund.status not in UNSETTLED_STATUSES:
        return False
    extra_fields = {"refund_id": wechat_refund_id} if wechat_refund_id and not refund.refund_id else {}
    if succeeded:
        refund_status_set(refund=refund, to_status=RefundStatus.SUCCEEDED, reason=reason, extra_fields=extra_fields)
    else:
        extra_fields["failure_reason"] = reason[:200]
        refund_status_set(refund=refund, to_status=RefundStatus.FAILED, reason=reason, extra_fields=extra_fields)
        Payment.objects.filter(pk=payment.pk).update(refunded_fen=F("refunded_fen") - refund.amount_fen)
    _order_settle_after_refund(order=order, paid_fen=payment.amount_fen, refund=refund)
    return True


def _order_settle_after_refund(*, order: Order, paid_fen: int, refund: Refund) -> None:
    """Once none of its refunds is under way: refunded, partially refunded, or (none went through) back as it was."""
    order_id = order.pk
    if order.status != OrderStatus.REFUNDING:
        return
    refunds = Refund.objects.filter(payment__order_id=order_id)
    if refunds.filter(status__in=UNSETTLED_STATUSES).exists():
        return
    refunded_fen = refunds.filter(status=RefundStatus.SUCCEEDED).aggregate(total=Sum("amount_fen"))["total"] or 0
    if refunded_fen >= paid_fen:
        to_status = OrderStatus.REFUNDED
    elif refunded_fen > 0:
        to_status = OrderStatus.PARTIALLY_REFUNDED
    else:
        to_status = order.events.filter(to_status=OrderStatus.REFUNDING).latest("id").from_status
    if refund.status == RefundStatus.SUCCEEDED:
        words = _("refund %(number)s refunded") % {"number": refund.out_refund_no}
    else:
        words = _("refund %(number)s failed (%(why)s)") % {"number": refund.out_refund_no, "why": refund.failure_reason}
    order_transition(
        order_id=order_id,
        to_status=to_status,
        actor=StatusActor.PAYMENT,
        reason=words,
    )


def refund_notification_record(*, notification: RefundNotification) -> bool:
    """Settle the refund a verified notification reports on; False for a repeat. Mismatches are refused, not settled."""
    refund = Refund.objects.select_related("payment").filter(out_refund_no=notification.out_refund_no).first()
    if refund is None:
        raise RefundNotificationRejected(f"no refund {notification.out_refund_no}")
    # Decrypted with the key of the merchant it names, which must be the one the payment was made through
    # (a v3 refund notification names no app: its merchant alone).
    if not payment_made_through(payment=refund.payment, appid=notification.appid or None, mch_id=notification.mch_id):
        raise RefundNotificationRejected(f"refund {refund.out_refund_no} was made through another merchant")
    expected = {
        "out_trade_no": refund.payment.out_trade_no,
        "total_fee": refund.payment.amount_fen,
        "refund_fee": refund.amount_fen,
    }
    if refund.refund_id:
        expected["refund_id"] = refund.refund_id
    mismatches = [name for name, value in expected.items() if getattr(notification, name) != value]
    if mismatches:
        # Never settled on: staff compare it with WeChat's merchant platform (and the bill).
        logger.error(
            "refund notification for %s does not match ours in %s", refund.out_refund_no, ", ".join(mismatches)
        )
        raise RefundNotificationRejected(f"refund {refund.out_refund_no} differs in {', '.join(mismatches)}")
    if notification.refund_status == WECHAT_REFUND_SUCCEEDED:
        succeeded = True
    elif notification.refund_status in WECHAT_REFUND_FAILED:
        succeeded = False
    else:
        raise RefundNotificationRejected(f"unknown refund_status {notification.refund_status!r}")
    if succeeded and refund.status == RefundStatus.FAILED:
        # We took WeChat's refusal as final and gave the amount back, yet the money went: staff must look.
        logger.error("WeChat reports refund %s succeeded, which we recorded as failed", refund.out_refund_no)
    return refund_settle(
        refund_id=refund.pk,
        succeeded=succeeded,
        reason=_refund_ending_words(notification.refund_status, notified=True),
        wechat_refund_id=notification.refund_id,
    )


def refund_query_settle(*, refund_id: int) -> bool:
    """Ask WeChat (pay/refundquery) how a processing refund went, and settle it if it has; True if settled."""
    refund = Refund.objects.select_related("payment").filter(pk=refund_id).first()
    if refund is None or refund.status != RefundStatus.PROCESSING:
        return False
    try:
        status = payment_gateway_for(payment=refund.payment).refund_query(refund.out_refund_no)
    except (WeChatTransientError, WeChatPermanentError) as error:
        logger.warning("could not query refund %s: %s", refund.out_refund_no, error)
        return False
    if status.refund_fee != refund.amount_fen:
        logger.error("WeChat reports refund %s as %s fen, not ours", refund.out_refund_no, status.refund_fee)
        return False
    if status.refund_status == WECHAT_REFUND_SUCCEEDED:
        succeeded = True
    elif status.refund_status in WECHAT_REFUND_FAILED:
        succeeded = False
    else:
        return False  # still PROCESSING
    return refund_settle(
        refund_id=refund.pk,
        succeeded=succeeded,
        reason=_refund_ending_words(status.refund_status, notified=False),
        wechat_refund_id=status.refund_id,
    )


def _refund_ending_words(refund_status: str, *, notified: bool) -> str:
    """“WeChat Pay notified SUCCESS”, or for a refund that moved no money, what happened in staff's words."""
    source = _("WeChat Pay notified") if notified else _("WeChat Pay refund query")
    words = WECHAT_REFUND_FAILED_WORDS.get(refund_status, refund_status)
    return _("%(source)s: %(words)s") % {"source": source, "words": words}


def refunds_settle_stale(*, older_than_minutes: int | None = None, batch_size: int = SETTLE_BATCH_SIZE) -> int:
    """Refunds WeChat has said nothing about for a while: ask again. Returns how many were settled.

    A refund still requested (WeChat was unreachable each time the task tried) is submitted again,
    the same out_refund_no making it the same refund; a processing one is queried.
    """
    minutes = settings.WECHAT_PAY_REFUND_QUERY_AFTER_MINUTES if older_than_minutes is None else older_than_minutes
    stale = Refund.objects.filter(
        status__in=UNSETTLED_STATUSES, created_at__lte=timezone.now() - timedelta(minutes=minutes)
    ).order_by("created_at", "id")
    settled = 0
    for refund_id, status in stale.values_list("pk", "status")[:batch_size]:
        if status == RefundStatus.REQUESTED:
            try:
                refund_submit(refund_id=refund_id)
            except (WeChatTransientError, InvalidPayMessage) as error:
                logger.warning("refund %s is still not accepted by WeChat: %s", refund_id, error)
        else:
            settled += refund_query_settle(refund_id=refund_id)
    return settled
