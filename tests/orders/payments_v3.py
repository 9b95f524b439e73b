"""Helpers for the v3 payment tests: a v3 merchant, and notifications signed and encrypted as WeChat Pay makes them.

The test plays WeChat Pay: it holds WeChat Pay's private key (the merchant holds its public key and
its id) and encrypts the resource with the merchant's APIv3 key, as 回调通知 and 签名验证 describe.
"""

import json
import secrets
import time
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from django.conf import settings

from orders.models import Payment, Refund
from wechat.merchants import mini_program_default
from wechat.models import Merchant
from wechat.pay.v3_signing import answer_message, resource_encrypt, rsa_sign

APIV3_KEY = "v3testapiv3key000000000000000000"
PUBLIC_KEY_ID = "PUB_KEY_ID_0110000000000000000000000000"


@cache
def _key_pair(name: str) -> RSAPrivateKey:
    # One per name and test run: RSA-2048 generation is slow enough to notice.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_public(key: RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _pem_private(key: RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@dataclass(frozen=True)
class WeChatPayV3:
    """WeChat Pay as a v3 merchant's notifications come from it: its signing key and the merchant's APIv3 key."""

    merchant: Merchant
    wechatpay_key: RSAPrivateKey
    public_key_id: str = PUBLIC_KEY_ID
    apiv3_key: str = APIV3_KEY

    def notification(
        self,
        resource: dict,
        *,
        event_type: str = "TRANSACTION.SUCCESS",
        original_type: str = "transaction",
        timestamp: int | None = None,
        serial: str | None = None,
        signing_key: RSAPrivateKey | None = None,
        associated_data: str = "transaction",
    ) -> tuple[bytes, dict[str, str]]:
        """(body, headers) of one notification, signed now (or at `timestamp`) with WeChat Pay's key."""
        nonce = secrets.token_hex(6)  # 12 characters, as WeChat Pay's resource nonce
        envelope = {
            "id": f"EV-{secrets.token_hex(8)}",
            "create_time": "2026-11-23T15:03:12+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功" if original_type == "transaction" else "退款成功",
            "resource": {
                "original_type": original_type,
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": resource_encrypt(
                    apiv3_key=self.apiv3_key,
                    nonce=nonce,
                    plaintext=json.dumps(resource, ensure_ascii=False).encode(),
                    associated_data=associated_data,
                ),
                "associated_data": associated_data,
                "nonce": nonce,
            },
        }
        body = json.dumps(envelope, ensure_ascii=False).encode()
        return body, self.headers(body, timestamp=timestamp, serial=serial, signing_key=signing_key)

    def headers(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        serial: str | None = None,
        signing_key: RSAPrivateKey | None = None,
    ) -> dict[str, str]:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        nonce = secrets.token_hex(16)
        signature = rsa_sign(signing_key or self.wechatpay_key, answer_message(stamp, nonce, body).decode())
        return {
            "Wechatpay-Timestamp": stamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": serial or self.public_key_id,
        }

    def transaction(self, payment: Payment, **changes) -> dict:
        """支付成功通知's resource (transaction) for `payment`, fields changed (amount: merged)."""
        amount = {
            "total": payment.amount_fen,
            "payer_total": payment.amount_fen,
            "currency": "CNY",
            "payer_currency": "CNY",
        }
        resource = {
            "appid": payment.appid or settings.WECHAT_MINI_PROGRAM_APPID,
            "mchid": self.merchant.mch_id,
            "out_trade_no": payment.out_trade_no,
            "transaction_id": "4200002026112312345678901234",
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "CMC",
            "attach": "",
            "success_time": "2026-11-23T15:03:12+08:00",
            "payer": {"openid": payment.order.customer.openid},
            "amount": {**amount, **changes.pop("amount", {})},
        }
        return {**resource, **changes}

    def refund(self, refund: Refund, **changes) -> dict:
        """退款结果通知's resource (refund) for `refund`, fields changed."""
        payment = refund.payment
        resource = {
            "mchid": self.merchant.mch_id,
            "out_trade_no": payment.out_trade_no,
            "transaction_id": payment.transaction_id or "4200002026112312345678901234",
            "out_refund_no": refund.out_refund_no,
            "refund_id": refund.refund_id or "50300000002026112300000000001",
            "refund_status": "SUCCESS",
            "success_time": "2026-11-23T16:00:00+08:00",
            "user_received_account": "支付用户零钱",
            "amount": {
                "total": payment.amount_fen,
                "refund": refund.amount_fen,
                "payer_total": payment.amount_fen,
                "payer_refund": refund.amount_fen,
            },
        }
        return {**resource, **changes}


def v3_merchant_make_default(*, apiv3_key: str = APIV3_KEY, public_key_id: str = PUBLIC_KEY_ID) -> WeChatPayV3:
    """The settings' Mini Program paying through a v3 merchant (its own row, as staff would set it up)."""
    wechatpay_key = _key_pair("wechatpay")
    merchant = mini_program_default().merchant
    merchant.api_version = Merchant.ApiVersion.V3
    merchant.apiv3_key = apiv3_key
    merchant.private_key = _pem_private(_key_pair("merchant"))
    merchant.certificate_serial = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
    merchant.verification = Merchant.Verification.PUBLIC_KEY
    merchant.wechatpay_public_key = _pem_public(wechatpay_key)
    merchant.wechatpay_public_key_id = public_key_id
    merchant.save()
    return WeChatPayV3(merchant=merchant, wechatpay_key=wechatpay_key, public_key_id=public_key_id, apiv3_key=apiv3_key)


def other_key() -> RSAPrivateKey:
    """A key that is not WeChat Pay's: what a forger signs with."""
    return _key_pair("forger")


def sandbox_v3_shop(sandbox, settings, live_server=None) -> Merchant:
    """The settings' shop on APIv3 with the keys the sandbox issued its merchant, as `make demo` runs it.

    With `live_server`, WeChat Pay's notifications (v2 and, beside them, v3) are posted to it.
    """
    described = sandbox.tls()["merchants"][settings.WECHAT_PAY_MCH_ID]["v3"]
    settings.WECHAT_PAY_API_VERSION = "v3"
    settings.WECHAT_PAY_V3_CREDENTIALS_FILE = described["files"]["description_path"]
    if live_server is not None:
        settings.WECHAT_PAY_NOTIFY_URL = f"{live_server.url}/wechat/pay/notify/"
        settings.WECHAT_PAY_REFUND_NOTIFY_URL = f"{live_server.url}/wechat/pay/refund-notify/"
    merchant = mini_program_default().merchant
    assert merchant.api_version == Merchant.ApiVersion.V3
    return merchant
