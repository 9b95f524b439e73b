"""/wechat/pay/refund-notify/: WeChat Pay's refund result notification (退款结果通知), answered in its XML.

WeChat posts it until answered return_code SUCCESS. SUCCESS: the refund is settled (now or
before: a repeat changes nothing). FAIL: we could not trust or match it, and WeChat will send
it again later; nothing changed. Never a 500.
"""

import logging

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from orders.exceptions import RefundNotificationRejected
from orders.services.refunds import refund_notification_record
from wechat.errors import WeChatError
from wechat.pay.gateway import payment_gateway

logger = logging.getLogger(__name__)

# WeChat's notifications are well under 4 KB; a larger body is not from WeChat.
MAX_BODY_BYTES = 64 * 1024


def _answer(return_code: str, return_msg: str) -> HttpResponse:
    body = (
        f"<xml><return_code><![CDATA[{return_code}]]></return_code>"
        f"<return_msg><![CDATA[{return_msg}]]></return_msg></xml>"
    )
    return HttpResponse(body, content_type="text/xml; charset=utf-8")


@csrf_exempt  # WeChat encrypts the notification with our API key; it has no CSRF token
@require_POST
def refund_notify(request: HttpRequest) -> HttpResponse:
    if len(request.body) > MAX_BODY_BYTES:
        return _answer("FAIL", "body too large")
    try:
        notification = payment_gateway().refund_notification_verify(request.body)
        refund_notification_record(notification=notification)
    except WeChatError as error:  # malformed, entities, wrong merchant, does not decrypt
        logger.warning("refused a refund notification: %s", error)
        return _answer("FAIL", "invalid notification")
    except RefundNotificationRejected as rejected:
        logger.warning("refused a refund notification: %s", rejected)
        return _answer("FAIL", "not matched")
    return _answer("SUCCESS", "OK")
