"""WeChat Pay's payment notification: POST /wechat/pay/notify/ (the notify_url of every unified order).

Answered as 微信支付 V2 开发文档, 支付结果通知 asks: XML with return_code SUCCESS once handled
(a duplicate too, so WeChat stops resending), FAIL otherwise (WeChat resends on its schedule).
Refusals of a body that is not a WeChat Pay message at all also carry a 4xx status.
"""

import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orders.models import NotificationOutcome
from orders.services.payments import PaymentNotificationRefused, payment_notification_receive
from wechat.pay.v2 import build_xml

logger = logging.getLogger(__name__)

# A notification is about 1 KB; anything much larger is not from WeChat.
MAX_BODY_BYTES = 64 * 1024
# Outcomes WeChat should keep resending: a signed message whose amount is not ours is a problem
# on one side or the other, and staff see every copy.
RESEND_OUTCOMES = frozenset({NotificationOutcome.AMOUNT_MISMATCH})


@csrf_exempt  # WeChat signs the body; it has no CSRF token
@require_POST
def payment_notify(request: HttpRequest) -> HttpResponse:
    body = request.body  # Django refuses one over DATA_UPLOAD_MAX_MEMORY_SIZE before it is read
    if len(body) > MAX_BODY_BYTES:
        return _answer("FAIL", "body too large", status=413)
    try:
        outcome = payment_notification_receive(body=body)
    except PaymentNotificationRefused as refusal:
        logger.warning("refused a payment notification: %s", refusal)
        return _answer("FAIL", str(refusal), status=refusal.status)
    if outcome in RESEND_OUTCOMES:
        return _answer("FAIL", outcome.label)
    return _answer("SUCCESS", "OK")


def _answer(return_code: str, return_msg: str, *, status: int = 200) -> HttpResponse:
    body = build_xml({"return_code": return_code, "return_msg": return_msg[:128]})
    return HttpResponse(body, status=status, content_type="text/xml; charset=utf-8")
