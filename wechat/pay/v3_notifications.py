"""WeChat Pay APIv3's notifications, verified and opened: 支付成功回调通知 and 退款结果通知.

From 微信支付 APIv3 文档 (回调通知, 签名验证, 证书和回调报文解密):
- the body is JSON {id, create_time, event_type, resource_type: "encrypt-resource", summary,
  resource: {original_type, algorithm: "AEAD_AES_256_GCM", ciphertext, associated_data, nonce}};
- the Wechatpay-Timestamp, -Nonce, -Signature and -Serial headers sign "TS\\nNONCE\\nBODY\\n" with
  WeChat Pay's key (Serial: its public key id, or a platform certificate's serial); a timestamp
  more than 5 minutes off is refused (wechat.pay.v3_signing);
- the resource decrypts with the merchant's APIv3 key; the merchant must check what it says
  (商户系统对于开启结果通知的内容一定要做签名验证，并校验通知的信息是否与商户侧的信息一致):
  mchid, appid, and (by the business) the amount; we take CNY only.

The merchant is not named outside the ciphertext, so the key that signed the notification chooses
it (`merchants_for_wechatpay_serial_for_message`). What comes out is the same dataclass v2's notifications give,
so orders handles both versions the same way, once.
"""

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from wechat.errors import WeChatError
from wechat.merchants import (
    merchants_for_wechatpay_serial_for_message,
    mini_program_of_merchant,
    payment_parties_for_message,
)
from wechat.models import Merchant
from wechat.pay.gateway import merchant_config
from wechat.pay.interface import InvalidPayMessage, MalformedPayMessage, PaymentNotification, RefundNotification
from wechat.pay.v2 import BEIJING
from wechat.pay.v3 import WeChatPayV3
from wechat.pay.v3_platform_certificates import platform_public_key
from wechat.pay.v3_signing import (
    PAY_SIGN_TYPE,
    InvalidWechatpaySignature,
    UnknownWechatpaySerial,
    answer_verify,
    public_key_load,
    resource_decrypt,
)

logger = logging.getLogger(__name__)

ALGORITHM = "AEAD_AES_256_GCM"
# 支付成功回调通知: "支付成功通知的类型为TRANSACTION.SUCCESS"; 退款结果通知: REFUND.SUCCESS, .ABNORMAL, .CLOSED.
PAYMENT_EVENT_TYPES = frozenset({"TRANSACTION.SUCCESS"})
REFUND_EVENT_TYPES = frozenset({"REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED"})
CURRENCY = "CNY"  # we charge in yuan only; WeChat Pay's amounts are in its smallest unit (fen)
# v3's refund_status in the words of v2's (RefundNotification.refund_status): CLOSED is v2's REFUNDCLOSE,
# ABNORMAL (the account could not take it; staff settle it in the merchant platform) v2's CHANGE.
REFUND_STATUS_AS_V2 = {"SUCCESS": "SUCCESS", "CLOSED": "REFUNDCLOSE", "ABNORMAL": "CHANGE"}


@dataclass(frozen=True)
class OpenedNotification:
    """A v3 notification whose signature verified and whose resource decrypted, for one merchant of ours."""

    merchant: Merchant
    envelope: dict[str, Any]
    resource: dict[str, Any]

    def record(self) -> str:
        """What staff read: the envelope with the resource decrypted in place (the ciphertext tells them nothing)."""
        return json.dumps({**self.envelope, "resource": self.resource}, ensure_ascii=False)


def payment_notification_v3_open(*, headers: Mapping[str, str], body: bytes) -> PaymentNotification:
    """A 支付成功回调通知, trusted: signed by WeChat Pay, decrypted with our merchant's key, for our app and merchant.

    Raises MalformedPayMessage for a body that is not a v3 notification, InvalidWechatpaySignature
    for one not signed by WeChat Pay now, InvalidPayMessage for the rest (another merchant or app,
    a resource that does not decrypt, no amount). The currency is `fee_type`, for the business to check.
    """
    opened = _notification_open(headers=headers, body=body, event_types=PAYMENT_EVENT_TYPES)
    resource, mch_id = opened.resource, opened.merchant.mch_id
    appid = _text(resource, "appid")
    if payment_parties_for_message(appid=appid, mch_id=mch_id) is None:
        raise InvalidPayMessage("payment notification is for another app than ours")
    amount = resource.get("amount")
    if not isinstance(amount, dict):
        raise InvalidPayMessage("payment notification without an amount")
    payer = resource.get("payer") if isinstance(resource.get("payer"), dict) else {}
    return PaymentNotification(
        out_trade_no=_text(resource, "out_trade_no"),
        transaction_id=_text(resource, "transaction_id"),
        total_fee=_fen(amount, "total"),
        openid=str(payer.get("openid", "")),
        time_end=_beijing_stamp(resource.get("success_time")),
        # v3 notifies successes only, yet says so in trade_state: whatever else it says is not a payment.
        result_code="SUCCESS" if resource.get("trade_state") == "SUCCESS" else str(resource.get("trade_state", "")),
        sign_type=PAY_SIGN_TYPE,
        raw_body=opened.record(),
        appid=appid,
        mch_id=mch_id,
        # 支付成功回调通知 amount.currency (选填, CNY): handed on as v2's fee_type, so the business stores a
        # payment in another currency flagged and never marks it paid, whichever version it came through.
        fee_type=str(amount.get("currency", CURRENCY)),
    )


def refund_notification_v3_open(*, headers: Mapping[str, str], body: bytes) -> RefundNotification:
    """A 退款结果通知, trusted as a payment notification is. It names no app: `appid` is left blank."""
    opened = _notification_open(headers=headers, body=body, event_types=REFUND_EVENT_TYPES)
    resource = opened.resource
    amount = resource.get("amount")
    if not isinstance(amount, dict):
        raise InvalidPayMessage("refund notification without an amount")
    status = REFUND_STATUS_AS_V2.get(str(resource.get("refund_status", "")))
    if status is None:
        raise InvalidPayMessage("refund notification with an unknown refund_status")
    return RefundNotification(
        out_refund_no=_text(resource, "out_refund_no"),
        out_trade_no=_text(resource, "out_trade_no"),
        refund_id=_text(resource, "refund_id"),
        transaction_id=_text(resource, "transaction_id"),
        total_fee=_fen(amount, "total"),
        refund_fee=_fen(amount, "refund"),
        refund_status=status,
        success_time=str(resource.get("success_time", "")),
        mch_id=opened.merchant.mch_id,
    )


def _notification_open(*, headers: Mapping[str, str], body: bytes, event_types: frozenset[str]) -> OpenedNotification:
    envelope = _envelope(body)
    if envelope.get("event_type") not in event_types:
        raise InvalidPayMessage(f"not a notification this endpoint takes: {str(envelope.get('event_type'))[:32]!r}")
    merchant = _signing_merchant(headers=headers, body=body)
    resource = _resource_decrypt(merchant, envelope["resource"])
    # The key that signed it chose the merchant; what it says must be that merchant's.
    if resource.get("mchid") != merchant.mch_id:
        raise InvalidPayMessage("notification is for another merchant")
    return OpenedNotification(merchant=merchant, envelope=envelope, resource=resource)


def _envelope(body: bytes) -> dict[str, Any]:
    try:
        envelope = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise MalformedPayMessage("not JSON") from None
    resource = envelope.get("resource") if isinstance(envelope, dict) else None
    if not isinstance(resource, dict) or not all(
        isinstance(resource.get(name), str) for name in ("ciphertext", "nonce", "algorithm")
    ):
        raise MalformedPayMessage("not a WeChat Pay v3 notification: no encrypted resource")
    if resource["algorithm"] != ALGORITHM:
        raise MalformedPayMessage(f"resource encrypted with {resource['algorithm'][:32]!r}, not {ALGORITHM}")
    return envelope


def _signing_merchant(*, headers: Mapping[str, str], body: bytes) -> Merchant:
    """The merchant whose WeChat Pay key signed the notification (the serial narrows the candidates)."""
    serial = next((value for name, value in headers.items() if name.lower() == "wechatpay-serial"), "")
    # This process's copies of the rows (wechat.merchants.PAY_MESSAGE_ROWS_SECONDS says what that costs).
    candidates = merchants_for_wechatpay_serial_for_message(serial)
    if not candidates:
        raise UnknownWechatpaySerial(serial[:80])
    refusal: InvalidWechatpaySignature | None = None
    for merchant in candidates:
        try:
            answer_verify(
                headers=headers, body=body, public_key_for_serial=lambda name, of=merchant: _wechatpay_key(of, name)
            )
        except InvalidWechatpaySignature as error:  # not this merchant's WeChat Pay key, or a bad signature
            refusal = error
            continue
        return merchant
    raise refusal or UnknownWechatpaySerial(serial[:80])


def _wechatpay_key(merchant: Merchant, serial: str) -> RSAPublicKey | None:
    if merchant.verification == Merchant.Verification.PUBLIC_KEY:
        if serial != merchant.wechatpay_public_key_id or not merchant.wechatpay_public_key:
            return None
        return _public_key(merchant.wechatpay_public_key)
    return _platform_certificate_key(merchant, serial)


def _platform_certificate_key(merchant: Merchant, serial: str) -> RSAPublicKey | None:
    """Platform certificate `serial` of `merchant`, from the certificates the v3 gateway downloads and caches.

    An unknown serial downloads them again at most once per WECHAT_PAY_V3_CERTIFICATE_REFRESH_SECONDS
    per merchant (wechat.pay.v3_platform_certificates), so forged serials cannot make one download a
    request. WeChat Pay unreachable: no key now, the notification is refused and comes again.
    """
    mini_program = mini_program_of_merchant(merchant.mch_id)
    if mini_program is None:
        return None
    config = merchant_config(mini_program, merchant=merchant)
    download = WeChatPayV3(config)._platform_certificates_download  # the gateway's one download, signed and checked
    try:
        return platform_public_key(config, serial, download=download)
    except WeChatError as error:
        logger.warning("could not download WeChat Pay's platform certificates for %s: %s", merchant.mch_id, error)
        return None


@lru_cache(maxsize=64)
def _public_key(pem: str) -> RSAPublicKey:
    # Parsed once per process and key: the key is the cache's key, so a replaced one is parsed afresh.
    return public_key_load(pem)


def _resource_decrypt(merchant: Merchant, resource: dict[str, Any]) -> dict[str, Any]:
    plain = resource_decrypt(
        apiv3_key=merchant.apiv3_key or "",
        nonce=resource["nonce"],
        ciphertext=resource["ciphertext"],
        associated_data=str(resource.get("associated_data") or ""),
    )
    try:
        decrypted = json.loads(plain)
    except (UnicodeDecodeError, ValueError):
        raise InvalidPayMessage("the resource is not JSON") from None
    if not isinstance(decrypted, dict):
        raise InvalidPayMessage("the resource is not a JSON object")
    return decrypted


def _text(resource: dict[str, Any], name: str) -> str:
    value = resource.get(name)
    if not isinstance(value, str) or not value:
        raise InvalidPayMessage(f"notification without a valid {name}")
    return value


def _fen(amount: dict[str, Any], name: str) -> int:
    value = amount.get(name)
    if type(value) is not int or value < 0:  # JSON true is not an amount
        raise InvalidPayMessage(f"notification without a valid amount.{name}")
    return value


def _beijing_stamp(text: Any) -> str:
    """v3's rfc3339 success_time as v2's yyyyMMddHHmmss in Beijing time (the dataclass's time_end); "" if absent."""
    try:
        return datetime.fromisoformat(str(text)).astimezone(BEIJING).strftime("%Y%m%d%H%M%S")
    except ValueError:
        return ""
