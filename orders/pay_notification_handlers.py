"""WeChat Pay's notifications, verified by wechat/, handed to the payment and refund services and answered."""

import logging

from orders.exceptions import RefundNotificationRejected
from orders.models import NotificationOutcome
from orders.services.payments import PaymentNotificationRefused, payment_notification_receive
from orders.services.refunds import refund_notification_record
from wechat.pay.interface import PaymentNotification, RefundNotification
from wechat.pay.notifications import NotificationAnswer

logger = logging.getLogger(__name__)

# Outcomes WeChat should keep resending: a signed message whose amount is not ours is a problem
# on one side or the other, and staff see every copy.
RESEND_OUTCOMES = frozenset({NotificationOutcome.AMOUNT_MISMATCH})


def payment_notification_handle(notification: PaymentNotification) -> NotificationAnswer:
    """Registered with wechat.pay.notifications for 支付结果通知: SUCCESS once recorded, a duplicate too."""
    try:
        outcome = payment_notification_receive(notification=notification)
    except PaymentNotificationRefused as refusal:
        logger.warning("refused a payment notification: %s", refusal)
        return NotificationAnswer.fail(str(refusal))
    if outcome in RESEND_OUTCOMES:
        return NotificationAnswer.fail(outcome.label)
    return NotificationAnswer.success()


def refund_notification_handle(notification: RefundNotification) -> NotificationAnswer:
    """Registered with wechat.pay.notifications for 退款结果通知: SUCCESS once the refund is settled, now or before."""
    try:
        refund_notification_record(notification=notification)
    except RefundNotificationRejected as rejected:
        logger.warning("refused a refund notification: %s", rejected)
        return NotificationAnswer.fail("not matched")
    return NotificationAnswer.success()
