"""WeChat Pay v2 signatures, per 微信支付 V2 开发文档, 安全规范 / 签名算法.

Non-empty parameters except `sign`, sorted by name, joined as `k=v&...`, then `&key=API_KEY`,
hashed with MD5 or HMAC-SHA256 (keyed with the API key), as upper-case hex.
"""

import hashlib
import hmac
from collections.abc import Mapping

MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"
SIGN_TYPES = (MD5, HMAC_SHA256)


def sign(params: Mapping[str, str], api_key: str, sign_type: str = MD5) -> str:
    text = "&".join(f"{name}={params[name]}" for name in sorted(params) if name != "sign" and params[name] != "")
    text += f"&key={api_key}"
    if sign_type == HMAC_SHA256:
        return hmac.new(api_key.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    if sign_type == MD5:
        return hashlib.md5(text.encode()).hexdigest().upper()
    raise ValueError(f"unknown WeChat Pay sign_type {sign_type!r}")


def signature_valid(params: Mapping[str, str], api_key: str, sign_type: str = MD5) -> bool:
    """Whether `params["sign"]` is their signature; compared in constant time."""
    return hmac.compare_digest(str(params.get("sign", "")), sign(params, api_key, sign_type))
