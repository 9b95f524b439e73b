"""WeChat Pay v2 signatures, per 微信支付 V2 开发文档, 安全规范 / 签名算法.

Non-empty parameters except `sign`, sorted by name, joined as `k=v&...`, then `&key=API_KEY`,
hashed with MD5 or HMAC-SHA256 (keyed with the API key), as upper-case hex.
"""

import hashlib
import hmac
from collections.abc import Iterable, Mapping

MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"
SIGN_TYPES = (MD5, HMAC_SHA256)


def sign(params: Mapping[str, str], api_key: str, sign_type: str = MD5) -> str:
    return _digest(_signed_text(params, api_key), api_key, sign_type)


def signature_valid(params: Mapping[str, str], api_key: str, sign_type: str = MD5) -> bool:
    """Whether `params["sign"]` is their signature; compared in constant time."""
    return signature_type_matched(params, api_key, (sign_type,)) is not None


def signature_type_matched(params: Mapping[str, str], api_key: str, sign_types: Iterable[str]) -> str | None:
    """The first of `sign_types` whose signature of `params` is `params["sign"]` (constant-time compares), or None.

    The signed text is the same whatever the method, so it is built once for all of them.
    """
    text = _signed_text(params, api_key)
    signature = str(params.get("sign", ""))
    return next(
        (name for name in sign_types if hmac.compare_digest(signature, _digest(text, api_key, name))),
        None,
    )


def _signed_text(params: Mapping[str, str], api_key: str) -> bytes:
    text = "&".join(f"{name}={params[name]}" for name in sorted(params) if name != "sign" and params[name] != "")
    return f"{text}&key={api_key}".encode()


def _digest(text: bytes, api_key: str, sign_type: str) -> str:
    if sign_type == HMAC_SHA256:
        return hmac.new(api_key.encode(), text, hashlib.sha256).hexdigest().upper()
    if sign_type == MD5:
        return hashlib.md5(text).hexdigest().upper()
    raise ValueError(f"unknown WeChat Pay sign_type {sign_type!r}")
