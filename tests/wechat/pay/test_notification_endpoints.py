"""wechat/ reads, verifies and answers WeChat Pay's notifications; the handler a business app registers decides.

The orders app's handlers are tested through the same URLs in tests/orders (test_pay_callbacks.py,
test_refunds.py); here a test's own handler stands in for them, or none at all.
"""

import logging

import pytest
from django.conf import settings
from django.urls import reverse

from wechat.pay import notifications
from wechat.pay.interface import PaymentNotification
from wechat.pay.notifications import NotificationAnswer
from wechat.pay.signing import HMAC_SHA256, MD5, sign
from wechat.pay.v2 import build_xml, parse_xml

# The endpoints find the Mini Program and merchant a notification names among our rows.
pytestmark = pytest.mark.django_db

PAY_SUCCESS = b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"


def signed_notification(sign_type: str, *, declared: bool) -> bytes:
    fields = {
        "appid": settings.WECHAT_MINI_PROGRAM_APPID,
        "mch_id": settings.WECHAT_PAY_MCH_ID,
        "nonce_str": "5d2b6c2a8db53831f7eda20af46e531c",
        "out_trade_no": "20261123150001000042",
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "time_end": "20261123150312",
        "total_fee": "3990",
        "transaction_id": "4200002026112312345678901234",
        **({"sign_type": sign_type} if declared else {}),
    }
    fields["sign"] = sign(fields, settings.WECHAT_PAY_API_KEY, sign_type)
    return build_xml(fields)


def post(client, body: bytes):
    return client.generic("POST", reverse("wechat-pay-notify"), body, content_type="text/xml")


@pytest.fixture
def handled(monkeypatch) -> list[PaymentNotification]:
    """A handler of payment notifications in place of the orders app's, answering as WeChat's SUCCESS."""
    received: list[PaymentNotification] = []

    def handle(notification: PaymentNotification) -> NotificationAnswer:
        received.append(notification)
        return NotificationAnswer.success()

    monkeypatch.setitem(notifications._handlers, PaymentNotification, handle)
    return received


@pytest.mark.parametrize("declared", [True, False], ids=["sign_type sent", "sign_type omitted"])
@pytest.mark.parametrize("sign_type", [MD5, HMAC_SHA256])
def test_the_handler_gets_the_notification_once_verified_with_the_method_it_was_signed_with(
    client, handled, sign_type, declared
):
    body = signed_notification(sign_type, declared=declared)

    response = post(client, body)

    assert (response.status_code, response.content) == (200, PAY_SUCCESS)
    [notification] = handled
    assert (notification.out_trade_no, notification.total_fee) == ("20261123150001000042", 3990)
    assert (notification.sign_type, notification.raw_body) == (sign_type, body.decode())


def test_a_forged_notification_never_reaches_the_handler(client, handled):
    body = signed_notification(MD5, declared=False).replace(b"<total_fee>3990", b"<total_fee>1")

    response = post(client, body)

    assert (response.status_code, parse_xml(response.content)["return_code"]) == (200, "FAIL")
    assert handled == []


def test_the_handlers_answer_is_what_wechat_gets(client, monkeypatch):
    monkeypatch.setitem(
        notifications._handlers, PaymentNotification, lambda notification: NotificationAnswer.fail("x" * 200)
    )

    response = post(client, signed_notification(MD5, declared=False))

    assert response.status_code == 200
    assert parse_xml(response.content) == {"return_code": "FAIL", "return_msg": "x" * 128}  # WeChat's limit


def test_without_a_registered_handler_the_notification_is_answered_fail_for_wechat_to_resend(
    client, monkeypatch, caplog
):
    monkeypatch.delitem(notifications._handlers, PaymentNotification)

    with caplog.at_level(logging.ERROR, logger="wechat.pay.notifications"):
        response = post(client, signed_notification(MD5, declared=False))

    assert (response.status_code, parse_xml(response.content)["return_code"]) == (200, "FAIL")
    assert "no handler is registered for PaymentNotification" in caplog.text
