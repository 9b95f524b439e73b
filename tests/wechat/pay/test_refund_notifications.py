"""The gateway reads refund notifications (退款结果通知): req_info decrypted with the MD5 of our API key, or refused."""

import pytest
from django.conf import settings

from wechat.pay.gateway import merchant_config, payment_gateway
from wechat.pay.interface import MerchantConfig, RefundNotification
from wechat.pay.v2 import InvalidPayMessage
from wechat_sandbox.pay_refunds import PayRefund, refund_notification

API_KEY = "sandboxapikey0000000000000000000"


def sandbox_notification(api_key: str = API_KEY, **changes) -> bytes:
    """A notification as the sandbox encrypts and posts it."""
    fields = {
        "mch_id": settings.WECHAT_PAY_MCH_ID,
        "appid": settings.WECHAT_MINI_PROGRAM_APPID,
        "out_refund_no": "20261124000000000001R01",
        "refund_id": "50300002026112400000000000",
        "out_trade_no": "20261124000000000001",
        "transaction_id": "4200002026112412345678901234",
        "total_fee": 3990,
        "refund_fee": 1000,
        "created_at": 1_795_000_000.0,
        "succeeds_at": 1_795_000_010.0,
        "notify_url": "http://127.0.0.1:9/",
        **changes,
    }
    return refund_notification(PayRefund(**fields), api_key).encode()


@pytest.fixture
def gateway(settings):
    settings.WECHAT_PAY_API_KEY = API_KEY
    return payment_gateway()


def test_a_notification_decrypts_to_what_the_refund_was(gateway):
    notification = gateway.refund_notification_verify(sandbox_notification())

    assert notification == RefundNotification(
        out_refund_no="20261124000000000001R01",
        out_trade_no="20261124000000000001",
        refund_id="50300002026112400000000000",
        transaction_id="4200002026112412345678901234",
        total_fee=3990,
        refund_fee=1000,
        refund_status="SUCCESS",
        success_time=notification.success_time,
        appid=settings.WECHAT_MINI_PROGRAM_APPID,
        mch_id=settings.WECHAT_PAY_MCH_ID,
    )
    assert notification.success_time  # yyyy-MM-dd HH:mm:ss, Beijing time


def test_one_encrypted_with_another_key_is_refused(gateway):
    with pytest.raises(InvalidPayMessage, match="decrypt"):
        gateway.refund_notification_verify(sandbox_notification(api_key="b" * 32))


def test_one_for_another_merchant_is_refused(gateway):
    other = payment_gateway(MerchantConfig(**{**merchant_config().__dict__, "mch_id": "1900000109"}))

    with pytest.raises(InvalidPayMessage, match="another app or merchant"):
        other.refund_notification_verify(sandbox_notification())


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><return_code>FAIL</return_code><return_msg>x</return_msg></xml>",
        b'<!DOCTYPE xml [<!ENTITY e "SUCCESS">]><xml><return_code>&e;</return_code></xml>',
        b"not xml",
    ],
)
def test_failures_dtds_and_garbage_are_refused(gateway, body):
    with pytest.raises(InvalidPayMessage):
        gateway.refund_notification_verify(body)
