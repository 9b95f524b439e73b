"""WeChat Pay APIv3's notifications: /wechat/pay/v3/notify/ and /wechat/pay/v3/refund-notify/.

Each is verified and opened once (wechat.pay.v3_notifications), handed to the same handler v2's
notifications go to (wechat.pay.notifications' registry, the same dataclasses), and answered as v3
expects (回调通知, 通知应答): HTTP 204 with no body when handled, a repeat too; otherwise a 4xx or 5xx
with JSON {"code": "FAIL", "message": ...}, and WeChat Pay sends it again on its schedule
(15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h).
"""

import json
import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from wechat.pay.interface import InvalidPayMessage, PaymentNotification, RefundNotification
from wechat.pay.notifications import MAX_BODY_BYTES, notification_dispatch
from wechat.pay.v3_notifications import payment_notification_v3_open, refund_notification_v3_open
from wechat.pay.v3_signing import InvalidWechatpaySignature

logger = logging.getLogger(__name__)

MESSAGE_MAX_CHARS = 128


@csrf_exempt  # WeChat Pay signs the body with its key; it has no CSRF token
@require_POST
def payment_notify_v3(request: HttpRequest) -> HttpResponse:
    return _received(request, payment_notification_v3_open, "payment")


@csrf_exempt  # signed and encrypted as the payment notification is
@require_POST
def refund_notify_v3(request: HttpRequest) -> HttpResponse:
    return _received(request, refund_notification_v3_open, "refund")


def _received(
    request: HttpRequest, notification_open: Callable[..., PaymentNotification | RefundNotification], kind: str
) -> HttpResponse:
    body = request.body  # Django refuses one over DATA_UPLOAD_MAX_MEMORY_SIZE before it is read
    if len(body) > MAX_BODY_BYTES:
        return _failure(413, "body too large")
    try:
        notification = notification_open(headers=request.headers, body=body)
    except InvalidPayMessage as refusal:
        logger.warning("refused a v3 %s notification: %s", kind, refusal)
        return _failure(_refusal_status(refusal), str(refusal))
    answer = notification_dispatch(notification)
    if answer.return_code != "SUCCESS":
        # Verified, but at odds with our records (an amount not ours, no such payment, made through v2):
        # not taken, and WeChat Pay tries again later. Not a 5xx: nothing here failed.
        return _failure(409, answer.return_msg)
    return HttpResponse(status=204)


def _refusal_status(refusal: InvalidPayMessage) -> int:
    if isinstance(refusal, InvalidWechatpaySignature):
        return 401  # not signed by WeChat Pay now: no key of that serial, a stale timestamp, a wrong signature
    # Not a v3 notification at all; or signed, but not ours to take: another merchant or app, a
    # resource that does not decrypt. (Another currency is verified, stored flagged and answered 409.)
    return 400


def _failure(status: int, message: str) -> HttpResponse:
    body = json.dumps({"code": "FAIL", "message": message[:MESSAGE_MAX_CHARS]})
    return HttpResponse(body, status=status, content_type="application/json")
