"""Helpers for the payment tests: an order prepaid through our API, notifications signed as WeChat signs them."""

import time

from django.conf import settings
from django.db.models import F

from orders.models import Order, Payment
from wechat.pay.interface import CLOSE_MIN_AGE
from wechat.pay.signing import HMAC_SHA256, sign
from wechat.pay.v2 import build_xml

# A notify_url nothing listens on: the sandbox's deliveries fail and stay in its outbox.
UNREACHABLE_NOTIFY_URL = "http://127.0.0.1:9/wechat/pay/notify/"


def prepaid(api, order: Order) -> Payment:
    """Prepay `order` through POST /pay, as the Mini Program does; its payment row."""
    response = api.post(f"/api/v1/orders/{order.order_no}/pay")
    assert response.status_code == 200, response.content
    return Payment.objects.get(order=order, prepay_id=response.json()["package"].removeprefix("prepay_id="))


def aged_past_close_limit(sandbox, payment: Payment) -> Payment:
    """Five minutes pass for `payment`'s unified order, for us and on the sandbox clock: WeChat may now close it."""
    Payment.objects.filter(pk=payment.pk).update(prepay_requested_at=F("prepay_requested_at") - CLOSE_MIN_AGE)
    sandbox.advance_clock(CLOSE_MIN_AGE.total_seconds())
    return payment


def notification_body(payment: Payment, *, sign_type: str | None = None, **changes: str) -> bytes:
    """A payment notification for `payment`, signed with our API key as WeChat would (fields changed first)."""
    sign_type = sign_type or payment.sign_type
    fields = {
        "appid": settings.WECHAT_MINI_PROGRAM_APPID,
        "bank_type": "CMC",
        "cash_fee": str(payment.amount_fen),
        "fee_type": "CNY",
        "is_subscribe": "N",
        "mch_id": settings.WECHAT_PAY_MCH_ID,
        "nonce_str": "5d2b6c2a8db53831f7eda20af46e531c",
        "openid": payment.order.customer.openid,
        "out_trade_no": payment.out_trade_no,
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "time_end": "20261123150312",
        "total_fee": str(payment.amount_fen),
        "trade_type": "JSAPI",
        "transaction_id": "4200002026112312345678901234",
        **({"sign_type": HMAC_SHA256} if sign_type == HMAC_SHA256 else {}),
        **changes,
    }
    fields["sign"] = sign(fields, settings.WECHAT_PAY_API_KEY, sign_type)
    return build_xml(fields)


def undelivered_notification(sandbox, out_trade_no: str) -> bytes:
    """The body of the notification the sandbox tried to post for `out_trade_no` (to an unreachable notify_url)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for delivery in sandbox.outbox():
            if f"<out_trade_no>{out_trade_no}</out_trade_no>" in delivery["body"] or out_trade_no in delivery["body"]:
                return delivery["body"].encode()
        time.sleep(0.05)
    raise AssertionError(f"the sandbox has no notification for {out_trade_no}")


def wait_until(condition, *, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)
