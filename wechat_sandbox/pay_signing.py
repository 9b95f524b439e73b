"""WeChat Pay v2's wire format, written from its documents: flat <xml> bodies, the v2 signature, request checks.

微信支付 V2 开发文档, 安全规范 / 签名算法: every non-empty parameter but `sign`, sorted by
name (ASCII), joined as `k=v&...`, then `&key=<API key>`; MD5 or HMAC-SHA256 (keyed with
the API key) of that, upper-case hex. Requests are verified with the merchant's key and
the request's `sign_type` (MD5 when absent); answers are signed the same way.

Deliberately independent of wechatpy's pay utilities: the product signs with wechatpy, and
a sandbox sharing its code could not catch a bug in it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import defusedxml.ElementTree as SafeElementTree
from defusedxml import DefusedXmlException
from werkzeug.wrappers import Request, Response

from wechat_sandbox.errors import PAY_ERR_CODE_DESCRIPTIONS
from wechat_sandbox.merchants import Merchants, SandboxMerchant
from wechat_sandbox.protocols import xml_response
from wechat_sandbox.routes import normalise_path

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox

# secapi/ calls need the merchant's certificate (安全规范 / 证书使用); the server puts the CN of the
# certificate the TLS handshake verified in the request's environ under this key.
SECAPI_PREFIX = "/secapi/"
CLIENT_CERTIFICATE_CN_KEY = "wechat_sandbox.client_certificate_cn"

MD5 = "MD5"
HMAC_SHA256 = "HMAC-SHA256"
SIGN_TYPES = (MD5, HMAC_SHA256)


def signing_string(params: dict[str, str], api_key: str) -> str:
    pairs = sorted((name, value) for name, value in params.items() if name != "sign" and value != "")
    return "&".join(f"{name}={value}" for name, value in pairs) + f"&key={api_key}"


def sign(params: dict[str, str], api_key: str, sign_type: str = MD5) -> str:
    text = signing_string(params, api_key).encode()
    if sign_type == HMAC_SHA256:
        return hmac.new(api_key.encode(), text, hashlib.sha256).hexdigest().upper()
    if sign_type == MD5:
        return hashlib.md5(text).hexdigest().upper()  # the algorithm WeChat Pay v2 specifies
    raise ValueError(f"unknown sign_type {sign_type!r}")


def verify(params: dict[str, str], api_key: str, sign_type: str = MD5) -> bool:
    """Constant-time check of params["sign"]; False when it is missing or the sign_type is unknown."""
    given = params.get("sign", "")
    if not given or sign_type not in SIGN_TYPES:
        return False
    return hmac.compare_digest(given.encode(), sign(params, api_key, sign_type).encode())


def nonce() -> str:
    return secrets.token_hex(16)


class PayFail(Exception):
    """A request WeChat Pay cannot take: return_code FAIL with return_msg (and any extra fields), unsigned."""

    def __init__(self, return_msg: str, **extra: str):
        self.return_msg = return_msg
        self.extra = extra
        super().__init__(return_msg)


class PayRefusal(Exception):
    """A business refusal: return_code SUCCESS, result_code FAIL, err_code and err_code_des, signed when it can be."""

    def __init__(self, err_code: str, err_code_des: str | None = None):
        self.err_code = err_code
        self.err_code_des = err_code_des or PAY_ERR_CODE_DESCRIPTIONS.get(err_code, err_code)
        super().__init__(f"{err_code} {self.err_code_des}")


def parse_pay_xml(body: bytes) -> dict[str, str]:
    """A flat <xml> body as a dict; anything else (empty, malformed, DTD, entities, nesting) is PayFail."""
    if not body.strip():
        raise PayFail("post数据为空")
    try:
        root = SafeElementTree.fromstring(body, forbid_dtd=True)
    except (ElementTree.ParseError, DefusedXmlException, ValueError):
        raise PayFail("XML格式错误") from None
    if root.tag != "xml":
        raise PayFail("XML格式错误")
    params: dict[str, str] = {}
    for element in root:
        if len(element) or element.tag in params:
            raise PayFail("XML格式错误")
        params[element.tag] = (element.text or "").strip()
    return params


@dataclass(frozen=True)
class PayRequest:
    """A verified request: its merchant (with key), parameters and the sign type its answer is signed with."""

    merchant: SandboxMerchant
    params: dict[str, str]
    sign_type: str

    @property
    def api_key(self) -> str:
        assert self.merchant.api_key is not None  # checked when the request was verified
        return self.merchant.api_key

    def answer(self, fields: dict[str, str]) -> Response:
        """return_code SUCCESS, result_code SUCCESS, the fields, signed with the request's sign type."""
        return self.signed({"result_code": "SUCCESS", **fields})

    def signed(self, fields: dict[str, str]) -> Response:
        answer = {
            "return_code": "SUCCESS",
            "return_msg": "OK",
            "appid": self.merchant.appid,
            "mch_id": self.merchant.mch_id,
            "nonce_str": nonce(),
            **{name: str(value) for name, value in fields.items()},
        }
        answer["sign"] = sign(answer, self.api_key, self.sign_type)
        return xml_response(answer)

    def required(self, *names: str) -> None:
        missing = [name for name in names if not self.params.get(name)]
        if missing:
            raise PayRefusal("LACK_PARAMS", f"缺少参数{','.join(missing)}")


PayHandler = Callable[["Sandbox", PayRequest], Response]


def pay_endpoint(handler: PayHandler) -> Callable[[Sandbox, Request], Response]:
    """A Pay route's handler: parses and verifies the request in WeChat Pay's order, then answers refusals in XML.

    Order (统一下单 "错误码" and 安全规范 / 签名算法): the XML body; mch_id (LACK_PARAMS,
    MCHID_NOT_EXIST: unsigned, there is no key to sign with); the signature with that
    merchant's key and the request's sign_type (return_code FAIL "签名错误"); then appid
    (LACK_PARAMS, APPID_MCHID_NOT_MATCH) and the handler's own checks, answered signed.
    """

    @functools.wraps(handler)
    def serve(sandbox: Sandbox, request: Request) -> Response:
        try:
            secapi = normalise_path(request.path).startswith(SECAPI_PREFIX)
            if secapi and request.scheme != "https":
                raise PayFail(
                    "secapi/ needs the merchant certificate: call the sandbox's TLS port (GET /sandbox/tls names it)"
                )
            pay_request = verified_request(sandbox, request.get_data())
            if secapi:
                presented = request.environ.get(CLIENT_CERTIFICATE_CN_KEY)
                if presented != pay_request.merchant.mch_id:
                    # The handshake checked the certificate is the CA's; this checks it is this merchant's.
                    raise PayFail(f"the client certificate is not merchant {pay_request.merchant.mch_id}'s")
        except PayFail as fail:
            return fail_response(fail)
        except PayRefusal as refusal:
            return xml_response(_refusal_fields(refusal))
        try:
            pay_request.required("appid")
            if pay_request.params["appid"] != pay_request.merchant.appid:
                raise PayRefusal("APPID_MCHID_NOT_MATCH")
            return handler(sandbox, pay_request)
        except PayFail as fail:
            return fail_response(fail)
        except PayRefusal as refusal:
            return pay_request.signed(_refusal_fields(refusal))

    return serve


def verified_request(sandbox: Sandbox, body: bytes) -> PayRequest:
    params = parse_pay_xml(body)
    mch_id = params.get("mch_id", "")
    if not mch_id:
        raise PayRefusal("LACK_PARAMS", "缺少参数mch_id")
    with sandbox.lock:
        merchant = sandbox.part(Merchants).by_id.get(mch_id)
    if merchant is None:
        raise PayRefusal("MCHID_NOT_EXIST")
    sign_type = params.get("sign_type") or MD5
    if sign_type not in SIGN_TYPES:
        raise PayFail("签名类型错误")
    if merchant.api_key is None or not verify(params, merchant.api_key, sign_type):
        raise PayFail("签名错误")
    return PayRequest(merchant=merchant, params=params, sign_type=sign_type)


def fail_response(fail: PayFail) -> Response:
    return xml_response({"return_code": "FAIL", "return_msg": fail.return_msg, **fail.extra})


def _refusal_fields(refusal: PayRefusal) -> dict[str, str]:
    return {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "result_code": "FAIL",
        "err_code": refusal.err_code,
        "err_code_des": refusal.err_code_des,
    }


def to_xml(fields: dict[str, str]) -> str:
    """A signed message's body, as WeChat Pay posts it (every value in CDATA)."""
    return xml_response(fields).get_data(as_text=True)
