"""WeChat Pay's notifications: /wechat/pay/notify/ (支付结果通知) and /wechat/pay/refund-notify/ (退款结果通知).

Each is read (its size bounded), verified and parsed here, once, by the payment gateway; handed to
the handler a business app registered for its kind (wechat/ knows no orders); and answered in
WeChat Pay's XML from one place. WeChat posts a notification until it is answered return_code
SUCCESS, so SUCCESS means handled (a repeat too), and FAIL means WeChat will send it again on its
schedule. At the payment endpoint, a body that is not a WeChat Pay message at all is answered FAIL
with a 4xx as well; the refund endpoint has always answered every refusal with a 200.
"""

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from wechat.pay.gateway import PaymentGateway, payment_gateway_for_message
from wechat.pay.interface import InvalidPayMessage, MalformedPayMessage, PaymentNotification, RefundNotification
from wechat.pay.v2 import build_xml, parse_xml

logger = logging.getLogger(__name__)

# A notification is about 1 KB, a refund's well under 4 KB; anything much larger is not from WeChat.
MAX_BODY_BYTES = 64 * 1024
# WeChat Pay's limit on return_msg.
RETURN_MSG_MAX_CHARS = 128


@dataclass(frozen=True)
class NotificationAnswer:
    """What a handler tells WeChat Pay about one notification."""

    return_code: Literal["SUCCESS", "FAIL"]
    return_msg: str

    @classmethod
    def success(cls) -> "NotificationAnswer":
        """Handled, now or before: WeChat stops sending it."""
        return cls("SUCCESS", "OK")

    @classmethod
    def fail(cls, return_msg: str) -> "NotificationAnswer":
        """Not handled: WeChat sends it again later."""
        return cls("FAIL", return_msg)


Notification = TypeVar("Notification", PaymentNotification, RefundNotification)

# One handler per kind of notification, registered by the business app that owns what it reports
# on (in its AppConfig.ready, in every process).
_handlers: dict[type, Callable] = {}


def notification_handler_register(
    kind: type[Notification], handler: Callable[[Notification], NotificationAnswer]
) -> None:
    """Hand every verified notification of `kind` to `handler`, whose answer WeChat gets; a later call replaces it.

    WeChat repeats a notification until it is acknowledged, and repeats may overlap: handlers must
    be idempotent. A payment notification is verified with whichever sign type matches (WeChat may
    not say which it used): its handler must hold `notification.sign_type` against the one the
    order was made with.
    """
    _handlers[kind] = handler


@csrf_exempt  # WeChat signs the body; it has no CSRF token
@require_POST
def payment_notify(request: HttpRequest) -> HttpResponse:
    body = request.body  # Django refuses one over DATA_UPLOAD_MAX_MEMORY_SIZE before it is read
    if len(body) > MAX_BODY_BYTES:
        return _answer(NotificationAnswer.fail("body too large"), status=413)
    try:
        # Signed as its order was, and it may not say how: the notification reports which method
        # matched, and the handler compares it with the order's.
        fields = parse_xml(body)
        notification = _gateway_of(fields).notification_verify(body, fields=fields)
    except InvalidPayMessage as refusal:
        logger.warning("refused a payment notification: %s", refusal)
        status = 400 if isinstance(refusal, MalformedPayMessage) else 200
        return _answer(NotificationAnswer.fail(str(refusal)), status=status)
    return _answer(notification_dispatch(notification))


@csrf_exempt  # WeChat encrypts the notification with our API key; it has no CSRF token
@require_POST
def refund_notify(request: HttpRequest) -> HttpResponse:
    # Unlike the payment endpoint, every refusal here is a 200: the answer this URL has always given.
    body = request.body
    if len(body) > MAX_BODY_BYTES:
        return _answer(NotificationAnswer.fail("body too large"))
    try:
        fields = parse_xml(body)
        notification = _gateway_of(fields).refund_notification_verify(body, fields=fields)
    except InvalidPayMessage as refusal:  # malformed, entities, wrong merchant, does not decrypt
        logger.warning("refused a refund notification: %s", refusal)
        return _answer(NotificationAnswer.fail("invalid notification"))
    return _answer(notification_dispatch(notification))


def _gateway_of(fields: Mapping[str, str]) -> PaymentGateway:
    """The gateway of the Mini Program and merchant the notification names (appid, mch_id), whose keys verify it.

    Read before it is trusted only to choose the key: a message naming another merchant's ids
    cannot carry that merchant's signature (or decrypt with its key) unless it came from WeChat.
    The gateway then verifies the same parsed fields: the body is parsed once.
    """
    return payment_gateway_for_message(appid=fields.get("appid", ""), mch_id=fields.get("mch_id", ""), version="v2")


def notification_dispatch(notification: PaymentNotification | RefundNotification) -> NotificationAnswer:
    """The registered handler's answer to a verified notification, whichever API version it came by."""
    handler = _handlers.get(type(notification))
    if handler is None:
        # Deployed without the app that handles it: WeChat keeps the notification until one is.
        logger.error("no handler is registered for %s: answered FAIL", type(notification).__name__)
        return NotificationAnswer.fail("not handled")
    return handler(notification)


def _answer(answer: NotificationAnswer, *, status: int = 200) -> HttpResponse:
    fields = {"return_code": answer.return_code, "return_msg": answer.return_msg[:RETURN_MSG_MAX_CHARS]}
    return HttpResponse(build_xml(fields, cdata=True), status=status, content_type="text/xml; charset=utf-8")
