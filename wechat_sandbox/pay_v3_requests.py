"""WeChat Pay APIv3 requests and answers as WeChat Pay handles them: the request signature checked, every answer signed.

From 微信支付 APIv3 文档, 接口规则:
- 签名生成 / 签名验证: a request's `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",
  signature="..",timestamp="..",serial_no=".."` is checked with the public key of the merchant
  certificate `serial_no` names, over "METHOD\\nURL\\nTIMESTAMP\\nNONCE\\nBODY\\n" (URL: path and query as
  sent); anything wrong with it (missing, another schema, a serial not the merchant's, a timestamp
  more than 5 minutes off, a signature that does not verify) is 401 SIGN_ERROR.
- 应答签名: WeChat Pay signs each answer, errors included, with Wechatpay-Timestamp, -Nonce,
  -Signature and -Serial (签名串 "TIMESTAMP\\nNONCE\\nBODY\\n"), and names it with Request-ID.
- 错误信息: an error is an HTTP status and {"code", "message"} (protocols.PAY_V3_ERRORS).
- 基本规则: HTTPS only, JSON bodies (Content-Type application/json), UTF-8.

Timestamps in signatures are real time, not the sandbox clock: the control API moves the clock to make
bills and expiries fall due, and WeChat Pay's 5-minute window is about the signer's real clock.
"""

from __future__ import annotations

import functools
import json
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from wechat_sandbox.merchants import Merchants
from wechat_sandbox.pay_v3_keys import MerchantV3Keys, PayV3Keys, rsa_sign, rsa_verify
from wechat_sandbox.protocols import PAY_V3_ERRORS

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox

AUTHORIZATION_SCHEMA = "WECHATPAY2-SHA256-RSA2048"
AUTHORIZATION_FIELDS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
# Where the server notes when it received a request (time.monotonic()), before any injected delay.
RECEIVED_AT_KEY = "wechat_sandbox.received_at"
TIMESTAMP_TOLERANCE_SECONDS = 300  # 签名验证: 时间戳与当前时间相差超过5分钟的拒绝
_AUTHORIZATION_PAIR = re.compile(r'\s*(\w+)="([^"]*)"\s*')


class V3Refusal(Exception):
    """An APIv3 error answer: `code` and its documented HTTP status (protocols.PAY_V3_ERRORS), or `status` given."""

    def __init__(self, code: str, message: str | None = None, *, status: int | None = None, detail: dict | None = None):
        documented_status, documented_message = PAY_V3_ERRORS.get(code, (400, code))
        self.code = code
        self.message = message or documented_message
        self.status = status or documented_status
        self.detail = detail
        super().__init__(f"{self.status} {code} {self.message}")

    def payload(self) -> dict:
        payload: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail:
            payload["detail"] = self.detail
        return payload


@dataclass(frozen=True)
class V3Request:
    """A request whose signature checked out: its merchant's keys, its JSON body (POST) and query."""

    mch_id: str
    appid: str
    keys: MerchantV3Keys
    body: dict
    query: dict[str, str]
    received_at: float  # time.monotonic() as the server received it (before any injected delay)

    def text(self, container: dict, name: str, *, required: bool = True, max_length: int = 256) -> str:
        """A string field of `container` (the body or a nested object); PARAM_ERROR naming it when wrong."""
        value = container.get(name)
        if value is None or value == "":
            if required:
                raise V3Refusal("PARAM_ERROR", f"缺少参数{name}", detail={"field": name, "location": "body"})
            return ""
        if not isinstance(value, str) or len(value) > max_length:
            raise V3Refusal("PARAM_ERROR", f"参数{name}格式错误", detail={"field": name, "location": "body"})
        return value

    def integer(self, container: dict, name: str) -> int:
        value = container.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise V3Refusal("PARAM_ERROR", f"参数{name}应为大于0的整数(单位分)", detail={"field": name})
        return value

    def object(self, container: dict, name: str) -> dict:
        value = container.get(name)
        if not isinstance(value, dict):
            raise V3Refusal("PARAM_ERROR", f"缺少参数{name}", detail={"field": name, "location": "body"})
        return value


# A handler answers a V3Answer, signed for it, or (a bill file, which WeChat Pay does not sign) a Response.
V3Handler = Callable[["Sandbox", V3Request], "V3Answer | Response"]


@dataclass(frozen=True)
class V3Answer:
    status: int = 200
    payload: dict | None = None  # None: no body (204)


def v3_endpoint(handler: V3Handler) -> Callable[[Sandbox, Request], Response]:
    """A /v3/ route's handler: HTTPS, the Authorization checked, then the handler; every answer signed."""

    @functools.wraps(handler)
    def serve(sandbox: Sandbox, request: Request) -> Response:
        keys: MerchantV3Keys | None = None
        try:
            if request.scheme != "https":
                raise V3Refusal("INVALID_REQUEST", "APIv3 只支持HTTPS: call the sandbox's v3 port (GET /sandbox/tls)")
            keys, appid = _verified_merchant(sandbox, request)
            body = _json_body(request) if request.method in ("POST", "PUT", "PATCH") else {}
            mch_id = keys.mch_id
            verified = V3Request(
                mch_id=mch_id,
                appid=appid,
                keys=keys,
                body=body,
                query=request.args.to_dict(),
                received_at=received_at(request),
            )
            answer = handler(sandbox, verified)
        except V3Refusal as refusal:
            if keys is None:
                return _unsigned(refusal)
            return signed_response(keys, refusal.status, refusal.payload(), received_at=received_at(request))
        if isinstance(answer, Response):
            return answer
        return signed_response(keys, answer.status, answer.payload, received_at=received_at(request))

    return serve


def _verified_merchant(sandbox: Sandbox, request: Request) -> tuple[MerchantV3Keys, str]:
    fields = authorization_fields(request.headers.get("Authorization", ""))
    with sandbox.lock:
        merchant = sandbox.part(Merchants).by_id.get(fields["mchid"])
        keys = sandbox.part(PayV3Keys).by_mch_id.get(fields["mchid"])
    if merchant is None or keys is None:
        raise V3Refusal("MCH_NOT_EXISTS")
    if fields["serial_no"].upper() != keys.merchant_serial:
        raise V3Refusal("SIGN_ERROR", "证书序列号不是商户的API证书", detail={"field": "serial_no"})
    try:
        signed_at = int(fields["timestamp"])
    except ValueError:
        raise V3Refusal("SIGN_ERROR", "timestamp格式错误", detail={"field": "timestamp"}) from None
    if abs(time.time() - signed_at) > TIMESTAMP_TOLERANCE_SECONDS:
        raise V3Refusal("SIGN_ERROR", "请求的时间戳已过期(与当前时间相差超过5分钟)", detail={"field": "timestamp"})
    message = (
        f"{request.method}\n{request_url(request)}\n{fields['timestamp']}\n{fields['nonce_str']}\n".encode()
        + request.get_data()
        + b"\n"
    )
    if not rsa_verify(keys.merchant_public_key, message, fields["signature"]):
        raise V3Refusal(
            "SIGN_ERROR", "签名错误，请检查后再试", detail={"field": "signature", "issue": "sign not match"}
        )
    return keys, merchant.appid


def authorization_fields(header: str) -> dict[str, str]:
    """The Authorization header's fields; SIGN_ERROR when it is not WeChat Pay's schema with all five."""
    schema, _, rest = header.strip().partition(" ")
    if schema != AUTHORIZATION_SCHEMA:
        raise V3Refusal(
            "SIGN_ERROR", f"Authorization的认证类型应为{AUTHORIZATION_SCHEMA}", detail={"location": "header"}
        )
    fields: dict[str, str] = {}
    for pair in rest.split(","):
        match = _AUTHORIZATION_PAIR.fullmatch(pair)
        if match:
            fields[match.group(1)] = match.group(2)
    missing = [name for name in AUTHORIZATION_FIELDS if not fields.get(name)]
    if missing:
        raise V3Refusal("SIGN_ERROR", f"Authorization缺少{','.join(missing)}", detail={"location": "header"})
    return fields


def request_url(request: Request) -> str:
    """The URL as the client signed it: the path and query string exactly as sent."""
    raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI")
    if raw:
        return raw
    query = request.environ.get("QUERY_STRING", "")
    return request.environ.get("PATH_INFO", "") + (f"?{query}" if query else "")


def _json_body(request: Request) -> dict:
    try:
        body = json.loads(request.get_data() or b"{}")
    except (ValueError, RecursionError):
        raise V3Refusal("PARAM_ERROR", "请求体不是合法的JSON") from None
    if not isinstance(body, dict):
        raise V3Refusal("PARAM_ERROR", "请求体应为JSON对象")
    return body


def answer_body(payload: dict | None) -> bytes:
    return b"" if payload is None else json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def received_at(request: Request) -> float:
    """When the server received the request (server.py notes it), time.monotonic()."""
    return request.environ.get(RECEIVED_AT_KEY, time.monotonic())


def signed_response(keys: MerchantV3Keys, status: int, payload: dict | None, *, received_at: float) -> Response:
    """An answer signed as WeChat Pay signs it, unless the control API asked to tamper with this merchant's next one."""
    body = answer_body(payload)
    serial, key = keys.signing_key()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16).upper()
    tampering = keys.take_answer_tampering(received_at)
    if tampering == "stale_timestamp":  # validly signed, 6 minutes ago: a replay
        timestamp = str(int(time.time()) - 360)
    if tampering == "unknown_serial":  # signed by a key we never issued to this merchant
        serial, key = f"{secrets.randbits(64):X}", keys.stranger_key()
    signature = rsa_sign(key, f"{timestamp}\n{nonce}\n".encode() + body + b"\n")
    if tampering == "bad_signature":  # one character off: a corrupted or forged answer
        signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    response = Response(body, status=status, content_type="application/json; charset=utf-8" if body else None)
    response.headers.update(
        {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": nonce,
            "Wechatpay-Signature": signature,
            "Wechatpay-Serial": serial,
            "Request-ID": secrets.token_hex(16),
        }
    )
    return response


def v3_answer_signed(sandbox: Sandbox, request: Request, answer: Response) -> Response:
    """An injected fault's APIv3 answer, signed for the merchant the request's Authorization names (if known)."""
    try:
        mch_id = authorization_fields(request.headers.get("Authorization", ""))["mchid"]
    except V3Refusal:
        return answer
    with sandbox.lock:
        keys = sandbox.part(PayV3Keys).by_mch_id.get(mch_id)
    if keys is None:
        return answer
    payload = json.loads(answer.get_data()) if answer.get_data() else None
    return signed_response(keys, answer.status_code, payload, received_at=received_at(request))


def _unsigned(refusal: V3Refusal) -> Response:
    # No merchant to sign for (the request did not say which, or named one we do not know).
    return Response(
        answer_body(refusal.payload()), status=refusal.status, content_type="application/json; charset=utf-8"
    )
