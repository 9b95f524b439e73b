"""WeChat Pay's platform certificates (平台证书) for merchants that check answers with them, cached for every process.

APIv3 文档, 下载平台证书 (GET /v3/certificates) and 平台证书更新指引: each certificate comes encrypted with
the merchant's APIv3 key (AEAD_AES_256_GCM, associated_data "certificate"); WeChat Pay starts signing
with a new one before the old expires, so an answer under a serial we do not hold means: download again.

The certificates (public data) live in the shared cache, per merchant, so every web and worker process
uses one download. An unknown serial downloads again at most once per
WECHAT_PAY_V3_CERTIFICATE_REFRESH_SECONDS per merchant (a cache.add() claim, atomic across processes):
a forger sending made-up serials cannot make us download once per request.
"""

from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from django.conf import settings
from django.core.cache import cache

from wechat.pay.interface import MerchantConfig
from wechat.pay.v3_errors import AnswerNotTrusted
from wechat.pay.v3_signing import ResourceNotDecrypted, certificate_public_key_load, resource_decrypt

# WeChat Pay advises fetching the certificates again every 12 hours (下载平台证书, 注意).
CERTIFICATES_CACHE_SECONDS = 12 * 3600


def _cache_key(mch_id: str) -> str:
    return f"wechatpay:v3:platform-certificates:{mch_id}"


def _claim_key(mch_id: str) -> str:
    return f"wechatpay:v3:platform-certificates:downloaded:{mch_id}"


def platform_public_key(
    config: MerchantConfig, serial: str, *, download: Callable[[], dict[str, str]]
) -> RSAPublicKey | None:
    """The public key of platform certificate `serial`, downloading the certificates when it is unknown
    (at most once per refresh interval); None when WeChat Pay has no such certificate for us."""
    certificates: dict[str, str] = cache.get(_cache_key(config.mch_id)) or {}
    if serial not in certificates:
        if not cache.add(_claim_key(config.mch_id), True, timeout=settings.WECHAT_PAY_V3_CERTIFICATE_REFRESH_SECONDS):
            return None  # downloaded within the interval: an unknown serial stays unknown until it passes
        try:
            certificates = download()
        except Exception:
            cache.delete(_claim_key(config.mch_id))  # nothing was downloaded: the next answer may try again
            raise
        cache.set(_cache_key(config.mch_id), certificates, timeout=CERTIFICATES_CACHE_SECONDS)
    pem = certificates.get(serial)
    return certificate_public_key_load(pem)[1] if pem else None


def certificates_decrypt(answer: object, *, apiv3_key: str) -> dict[str, tuple[str, RSAPublicKey]]:
    """/v3/certificates' answer as serial -> (PEM, public key); AnswerNotTrusted when any does not decrypt."""
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, list):
        raise AnswerNotTrusted("the platform certificates answer has no data list")
    certificates: dict[str, tuple[str, RSAPublicKey]] = {}
    for entry in data:
        try:
            encrypted = entry["encrypt_certificate"]
            pem = resource_decrypt(
                apiv3_key=apiv3_key,
                nonce=encrypted["nonce"],
                ciphertext=encrypted["ciphertext"],
                associated_data=encrypted.get("associated_data", ""),
            ).decode()
            serial, public_key = certificate_public_key_load(pem)
        except (KeyError, TypeError, ValueError, ResourceNotDecrypted) as exc:
            raise AnswerNotTrusted(f"a platform certificate does not decrypt with our APIv3 key ({exc})") from exc
        if serial != str(entry.get("serial_no", "")).upper():
            raise AnswerNotTrusted("a platform certificate's serial is not the serial_no it came with")
        certificates[serial] = (pem, public_key)
    return certificates


def certificates_forget(mch_id: str) -> None:
    """Drop a merchant's cached certificates and download claim (its keys changed)."""
    cache.delete_many([_cache_key(mch_id), _claim_key(mch_id)])
