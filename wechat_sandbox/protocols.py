"""How a WeChat route says no: each protocol's error answer, and what a fault's code may be in it.

api.weixin.qq.com answers errors as HTTP 200 with {"errcode", "errmsg"} (公众号 "全局返回码说明"),
and its file downloads (media/get) answer errors the same way. WeChat Pay v2
(api.mch.weixin.qq.com) answers XML: a request it could not take gets return_code FAIL
with return_msg; a business refusal gets return_code SUCCESS, result_code FAIL, err_code
and err_code_des (支付 v2 "统一下单, 返回结果"). WeChat Pay APIv3 (/v3/ on the same host) answers
an error with its HTTP status and a JSON {"code", "message"} (APIv3 文档, 接口规则 / 错误信息).
"""

from __future__ import annotations

import json
import re
import secrets
from typing import Any
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response

from wechat_sandbox.errors import ErrorCode, WeChatErrcode, default_errmsg

PAY_ERR_CODE_SHAPE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


def new_rid(now: float) -> str:
    """WeChat's request id, as its errmsg carries it ("invalid code, rid: 6380622c-50076416-224b40b0"):
    the unix time in hex, then two random 8-hex groups (查询rid信息 getRidInfo, 请求示例)."""
    return f"{int(now) & 0xFFFFFFFF:08x}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


def json_response(payload: Any, status: int = 200) -> Response:
    # ensure_ascii off: WeChat sends UTF-8 Chinese text as is, not \u escapes.
    return Response(
        json.dumps(payload, ensure_ascii=False), status=status, content_type="application/json; charset=utf-8"
    )


class Protocol:
    """A family of WeChat endpoints that answer errors alike."""

    name = ""

    def error_response(self, error: WeChatErrcode, *, rid: str) -> Response:
        """The answer for `error`; `rid` is the request id where the protocol carries one."""
        raise NotImplementedError

    def check_fault_code(self, code: ErrorCode) -> str | None:
        """Why `code` cannot be this protocol's error code, or None if it can."""
        raise NotImplementedError

    def errcode_of(self, response: Response) -> ErrorCode | None:
        """The error code an answer carries, for the received log; None for a success."""
        raise NotImplementedError


class JsonErrcodeProtocol(Protocol):
    """api.weixin.qq.com: HTTP 200 {"errcode": N, "errmsg": "<WeChat's wording>, rid: <rid>"}."""

    name = "json"

    def error_response(self, error: WeChatErrcode, *, rid: str) -> Response:
        return json_response({"errcode": error.errcode, "errmsg": f"{error.errmsg}, rid: {rid}", **error.extra})

    def check_fault_code(self, code: ErrorCode) -> str | None:
        if isinstance(code, bool) or not isinstance(code, int):
            return "errcode must be an integer on this path (WeChat's JSON errcode)"
        if not -(2**31) <= code < 2**31:
            return "errcode must be a 32-bit integer"
        if code == 0:
            return "errcode 0 is success, not a fault"
        return None

    def errcode_of(self, response: Response) -> ErrorCode | None:
        if response.mimetype != "application/json":
            return None
        data = response.get_data()
        if b'"errcode"' not in data:  # our own answers never escape the key: a success, without parsing it
            return None
        body = json.loads(data)
        errcode = body.get("errcode") if isinstance(body, dict) else None
        return errcode or None


class FileProtocol(JsonErrcodeProtocol):
    """A download (media/get, a QR code image): the file on success, errors as JSON errcode."""

    name = "file"


class PayXmlProtocol(Protocol):
    """api.mch.weixin.qq.com (WeChat Pay v2): XML; text error codes such as SYSTEMERROR."""

    name = "pay_xml"

    def error_response(self, error: WeChatErrcode, *, rid: str) -> Response:
        if isinstance(error.errcode, int):  # the request itself was refused: return_code FAIL
            return xml_response({"return_code": "FAIL", "return_msg": error.errmsg})
        return xml_response(
            {
                "return_code": "SUCCESS",
                "return_msg": "OK",
                "result_code": "FAIL",
                "err_code": error.errcode,
                "err_code_des": error.errmsg,
            }
        )

    def check_fault_code(self, code: ErrorCode) -> str | None:
        if not isinstance(code, str) or not PAY_ERR_CODE_SHAPE.fullmatch(code):
            return "errcode must be a WeChat Pay err_code such as SYSTEMERROR on this path"
        return None

    def errcode_of(self, response: Response) -> ErrorCode | None:
        if response.mimetype not in ("text/xml", "application/xml"):
            return None  # a bill (CSV, or gzip bytes) is a success
        body = response.get_data(as_text=True)
        if "<return_code><![CDATA[FAIL]]></return_code>" in body:
            return "FAIL"
        found = re.search(r"<err_code><!\[CDATA\[([A-Z0-9_]+)\]\]></err_code>", body)
        return found.group(1) if found else None


# APIv3 codes and the HTTP status each comes with (APIv3 文档: 接口规则 / 错误信息, and the 错误码 table
# of JSAPI下单, 查询订单, 关闭订单, 退款申请, 查询单笔退款, 申请交易账单).
PAY_V3_ERRORS: dict[str, tuple[int, str]] = {
    "PARAM_ERROR": (400, "参数错误"),
    "INVALID_REQUEST": (400, "无效请求"),
    "APPID_MCHID_NOT_MATCH": (400, "AppID和mch_id不匹配"),
    "MCH_NOT_EXISTS": (400, "商户号不存在"),
    "ORDER_CLOSED": (400, "订单已关闭"),
    "NO_STATEMENT_EXIST": (400, "账单文件不存在"),
    "STATEMENT_CREATING": (400, "账单生成中"),
    "SIGN_ERROR": (401, "签名错误"),
    "NO_AUTH": (403, "商户无权限"),
    "ORDERPAID": (403, "订单已支付"),
    "OUT_TRADE_NO_USED": (403, "商户订单号重复"),
    "NOT_ENOUGH": (403, "余额不足"),
    "ORDER_NOT_EXIST": (404, "订单不存在"),
    "RESOURCE_NOT_EXISTS": (404, "资源不存在"),
    "NOT_FOUND": (404, "请求的资源不存在"),
    "METHOD_NOT_ALLOWED": (405, "请求方法不被允许"),
    "FREQUENCY_LIMITED": (429, "频率超限"),
    "SYSTEM_ERROR": (500, "系统错误"),
}
# The sandbox's own int errcodes, as a /v3/ path answers them.
_PAY_V3_FOR_ERRCODE = {-1: "SYSTEM_ERROR", 40066: "NOT_FOUND", 43001: "METHOD_NOT_ALLOWED", 43002: "METHOD_NOT_ALLOWED"}


class PayV3JsonProtocol(Protocol):
    """api.mch.weixin.qq.com/v3/ (WeChat Pay APIv3): an HTTP status and {"code", "message"}; text codes."""

    name = "pay_v3"

    def error_response(self, error: WeChatErrcode, *, rid: str) -> Response:
        code = (
            error.errcode if isinstance(error.errcode, str) else _PAY_V3_FOR_ERRCODE.get(error.errcode, "PARAM_ERROR")
        )
        status, message = PAY_V3_ERRORS.get(code, (400, code))
        if isinstance(error.errcode, str) and error.errmsg and error.errmsg != default_errmsg(error.errcode):
            message = error.errmsg
        return json_response({"code": code, "message": message, **error.extra}, status=status)

    def check_fault_code(self, code: ErrorCode) -> str | None:
        if not isinstance(code, str) or not PAY_ERR_CODE_SHAPE.fullmatch(code):
            return "errcode must be a WeChat Pay APIv3 code such as SYSTEM_ERROR on this path"
        return None

    def errcode_of(self, response: Response) -> ErrorCode | None:
        if response.status_code < 400 or response.mimetype != "application/json":
            return None
        body = json.loads(response.get_data())
        return body.get("code") if isinstance(body, dict) else None


def xml_response(fields: dict[str, str], status: int = 200) -> Response:
    """WeChat Pay's flat <xml> with every value in CDATA."""
    body = "".join(f"<{name}><![CDATA[{_cdata(str(value))}]]></{name}>" for name, value in fields.items())
    return Response(f"<xml>{body}</xml>", status=status, content_type="text/xml; charset=utf-8")


def _cdata(text: str) -> str:
    # "]]>" cannot appear inside CDATA; escaping is enough for the sandbox's own messages.
    return escape(text) if "]]>" in text else text


JSON = JsonErrcodeProtocol()
FILE = FileProtocol()
PAY_XML = PayXmlProtocol()
PAY_V3 = PayV3JsonProtocol()
PROTOCOLS = {protocol.name: protocol for protocol in (JSON, FILE, PAY_XML, PAY_V3)}

# Paths on api.mch.weixin.qq.com; the sandbox serves both hosts, so an unknown path under
# these answers in WeChat Pay's protocol.
PAY_PATH_PREFIXES = ("/pay/", "/secapi/", "/mmpaymkttransfers/", "/risk/", "/sandboxnew/")


PAY_V3_PATH_PREFIX = "/v3/"


def protocol_for_unknown_path(path: str) -> Protocol:
    if path.startswith(PAY_V3_PATH_PREFIX):
        return PAY_V3
    return PAY_XML if path.startswith(PAY_PATH_PREFIXES) else JSON


def error_response(status: int, message: str) -> Response:
    """The control API's own errors (bad input, unknown path): {"errcode": <the HTTP status>, "errmsg"}."""
    return json_response({"errcode": status, "errmsg": message}, status=status)
