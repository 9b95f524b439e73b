"""WeChat Pay APIv3 signatures and encryption, on `cryptography` (no SDK: see docs/architecture.md).

From 微信支付 APIv3 文档 (https://pay.weixin.qq.com/docs/merchant/development/interface-rules/):
- 签名生成: a request carries `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",
  signature="..",timestamp="..",serial_no=".."`, the signature SHA256withRSA (PKCS#1 v1.5) with the
  merchant API private key, base64, over "METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n" (URL: the path
  and query string as sent; BODY empty for a GET).
- 签名验证: every answer and notification carries Wechatpay-Timestamp, -Nonce, -Signature and
  -Serial; the signature is over "TIMESTAMP\\nNONCE\\nBODY\\n", checked with WeChat Pay's public key
  (Serial = its id, PUB_KEY_ID_...) or the platform certificate of that serial. "商户系统应检查时间戳
  与当前时间的差值, 超过5分钟的应拒绝" (a timestamp more than 5 minutes off is refused).
- JSAPI调起支付 (wx.requestPayment): paySign is SHA256withRSA with the merchant private key over
  "appId\\ntimeStamp\\nnonceStr\\npackage\\n", signType "RSA".
- 证书和回调报文解密: a notification's `resource` (and /v3/certificates' certificates) are
  AEAD_AES_256_GCM with the APIv3 key, the resource's `nonce` and `associated_data`, the 16-byte
  tag at the end of the base64 `ciphertext`.

Stable names (the v3 notifications code against them): `authorization_header`, `answer_verify`
(with `WechatpayHeaders`), `pay_sign`, `resource_decrypt`, `private_key_load`, `public_key_load`,
`certificate_public_key_load`. Failures raise `InvalidPayMessage` subclasses, never return False.
"""

import base64
import binascii
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from wechat.pay.interface import InvalidPayMessage

AUTHORIZATION_SCHEMA = "WECHATPAY2-SHA256-RSA2048"
PAY_SIGN_TYPE = "RSA"
# 签名验证: "超过5分钟的应拒绝".
TIMESTAMP_TOLERANCE_SECONDS = 300


class InvalidWechatpaySignature(InvalidPayMessage):
    """An answer or notification whose Wechatpay-* headers are missing, stale, or do not verify."""


class UnknownWechatpaySerial(InvalidWechatpaySignature):
    """Signed under a Wechatpay-Serial we hold no key for (a platform certificate to download, perhaps)."""

    def __init__(self, serial: str):
        self.serial = serial
        super().__init__(f"no WeChat Pay key with serial {serial!r}")


class ResourceNotDecrypted(InvalidPayMessage):
    """A `resource` that does not decrypt with our APIv3 key (tampered, or another merchant's)."""


def private_key_load(pem: str | bytes) -> RSAPrivateKey:
    """The merchant API private key (apiclient_key.pem)."""
    key = load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("a WeChat Pay merchant key is an RSA key")
    return key


def public_key_load(pem: str | bytes) -> RSAPublicKey:
    """WeChat Pay's public key (pub_key.pem, 微信支付公钥)."""
    key = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, RSAPublicKey):
        raise ValueError("WeChat Pay's public key is an RSA key")
    return key


def certificate_public_key_load(pem: str | bytes) -> tuple[str, RSAPublicKey]:
    """A platform certificate's serial (upper-case hex, as Wechatpay-Serial names it) and public key."""
    certificate = x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    key = certificate.public_key()
    if not isinstance(key, RSAPublicKey):
        raise ValueError("a WeChat Pay platform certificate holds an RSA key")
    return f"{certificate.serial_number:X}", key


def rsa_sign(private_key: RSAPrivateKey, message: str) -> str:
    """SHA256withRSA (PKCS#1 v1.5), base64: the one signature APIv3 uses in both directions."""
    return base64.b64encode(private_key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_signature_valid(public_key: RSAPublicKey, message: str | bytes, signature: str) -> bool:
    raw = message.encode() if isinstance(message, str) else message
    try:
        public_key.verify(base64.b64decode(signature, validate=True), raw, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def request_message(method: str, url: str, timestamp: str, nonce: str, body: str) -> str:
    """签名串 of a request: `url` is the path with its query string, as sent (no scheme or host)."""
    return f"{method.upper()}\n{url}\n{timestamp}\n{nonce}\n{body}\n"


def authorization_header(
    *,
    mch_id: str,
    serial_no: str,
    private_key: RSAPrivateKey,
    method: str,
    url: str,
    body: str = "",
    timestamp: str | None = None,
    nonce: str | None = None,
) -> str:
    """The Authorization header of one request (`url`: path and query, e.g. /v3/pay/transactions/jsapi)."""
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or secrets.token_hex(16).upper()
    signature = rsa_sign(private_key, request_message(method, url, timestamp, nonce, body))
    return (
        f'{AUTHORIZATION_SCHEMA} mchid="{mch_id}",nonce_str="{nonce}",signature="{signature}",'
        f'timestamp="{timestamp}",serial_no="{serial_no}"'
    )


@dataclass(frozen=True)
class WechatpayHeaders:
    """The Wechatpay-* headers of one answer or notification."""

    timestamp: str
    nonce: str
    signature: str
    serial: str

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> "WechatpayHeaders":
        """From any headers mapping (requests', Django's request.headers, or a plain dict), names in any case."""
        lowered = {name.lower(): value for name, value in headers.items()}
        values = [lowered.get(f"wechatpay-{part}", "") for part in ("timestamp", "nonce", "signature", "serial")]
        if not all(values):
            raise InvalidWechatpaySignature(
                "the Wechatpay-Timestamp, -Nonce, -Signature and -Serial headers are required"
            )
        return cls(*values)


def answer_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """验签名串 of an answer or notification: the body as received, byte for byte."""
    return timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"


def answer_verify(
    *,
    headers: Mapping[str, str],
    body: bytes,
    public_key_for_serial: Callable[[str], RSAPublicKey | None],
    now: float | None = None,
) -> str:
    """Check that WeChat Pay signed `body` (an answer or a notification); returns the serial it was signed under.

    `public_key_for_serial`: WeChat Pay's key named by Wechatpay-Serial (a public key id or a platform
    certificate serial), None when we hold none of that name. Raises UnknownWechatpaySerial then (the
    caller may refresh its platform certificates once and ask again), InvalidWechatpaySignature when
    the headers are missing, the timestamp is more than 5 minutes off, or the signature is wrong.
    """
    wechatpay = WechatpayHeaders.from_headers(headers)
    try:
        signed_at = int(wechatpay.timestamp)
    except ValueError:
        raise InvalidWechatpaySignature("Wechatpay-Timestamp is not a number") from None
    if abs((time.time() if now is None else now) - signed_at) > TIMESTAMP_TOLERANCE_SECONDS:
        raise InvalidWechatpaySignature("Wechatpay-Timestamp is more than 5 minutes off: refused as a replay")
    public_key = public_key_for_serial(wechatpay.serial)
    if public_key is None:
        raise UnknownWechatpaySerial(wechatpay.serial)
    if not rsa_signature_valid(
        public_key, answer_message(wechatpay.timestamp, wechatpay.nonce, body), wechatpay.signature
    ):
        raise InvalidWechatpaySignature("Wechatpay-Signature does not verify")
    return wechatpay.serial


def pay_sign(*, private_key: RSAPrivateKey, appid: str, timestamp: str, nonce: str, package: str) -> str:
    """paySign of wx.requestPayment (signType RSA); `package` is "prepay_id=..."."""
    return rsa_sign(private_key, f"{appid}\n{timestamp}\n{nonce}\n{package}\n")


def request_payment_parameters(*, private_key: RSAPrivateKey, appid: str, prepay_id: str) -> dict[str, str]:
    """All of wx.requestPayment's parameters for one prepay_id, signed."""
    params = {
        "appId": appid,
        "timeStamp": str(int(time.time())),
        "nonceStr": secrets.token_hex(16),
        "package": f"prepay_id={prepay_id}",
        "signType": PAY_SIGN_TYPE,
    }
    params["paySign"] = pay_sign(
        private_key=private_key,
        appid=appid,
        timestamp=params["timeStamp"],
        nonce=params["nonceStr"],
        package=params["package"],
    )
    return params


def resource_decrypt(*, apiv3_key: str, nonce: str, ciphertext: str, associated_data: str = "") -> bytes:
    """The plaintext of an AEAD_AES_256_GCM `resource` (or an encrypted platform certificate)."""
    key = apiv3_key.encode()
    if len(key) != 32:
        raise ResourceNotDecrypted("the APIv3 key is not 32 bytes")
    try:
        return AESGCM(key).decrypt(
            nonce.encode(), base64.b64decode(ciphertext, validate=True), associated_data.encode()
        )
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise ResourceNotDecrypted("resource does not decrypt with our APIv3 key") from exc


def resource_encrypt(*, apiv3_key: str, nonce: str, plaintext: bytes, associated_data: str = "") -> str:
    """The base64 ciphertext WeChat Pay would send (tests and benches build notifications with it)."""
    return base64.b64encode(
        AESGCM(apiv3_key.encode()).encrypt(nonce.encode(), plaintext, associated_data.encode())
    ).decode()
