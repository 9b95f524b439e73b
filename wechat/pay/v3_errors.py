"""WeChat Pay APIv3's errors as our error classes, per APIv3 文档, 接口规则 / 错误信息 and each API's 错误码 table.

An APIv3 error is an HTTP status with {"code", "message"}. The classes are v2's (wechat.errors), and
where the business reads a code the errcode is the one it reads for v2 too ("ORDERPAID",
"ORDERCLOSED", "ORDERNOTEXIST", "REFUNDNOTEXIST", the bill's "20002"), so orders/ handles both
versions alike; the v3 code stays in the message and in `body["v3_code"]`.
"""

from wechat.errors import (
    WeChatError,
    WeChatMisconfigured,
    WeChatPermanentError,
    WeChatRateLimited,
    WeChatTransientError,
)

TRANSIENT_CODES = frozenset({"SYSTEM_ERROR", "SYSTEMERROR", "BANK_ERROR"})
RATE_LIMITED_CODES = frozenset({"FREQUENCY_LIMITED"})
# Only an operator can fix these: our key, serial, parameters or the merchant's setup are wrong.
MISCONFIGURED_CODES = frozenset(
    {"SIGN_ERROR", "PARAM_ERROR", "INVALID_REQUEST", "MCH_NOT_EXISTS", "APPID_MCHID_NOT_MATCH", "NO_AUTH"}
)
# The codes the business reads, named as v2 names them.
BUSINESS_ERRCODES = {
    "ORDER_NOT_EXIST": "ORDERNOTEXIST",
    "ORDERNOTEXIST": "ORDERNOTEXIST",
    "ORDERPAID": "ORDERPAID",
    "ORDER_CLOSED": "ORDERCLOSED",
    # 申请交易账单: the day had no trades, v2's 20002 "No Bill Exist".
    "NO_STATEMENT_EXIST": "20002",
}


class AnswerNotTrusted(WeChatTransientError):
    """An answer whose signature, timestamp, serial or hash did not check out: as if none had come.

    Retrying asks WeChat Pay again; nothing in the untrusted answer is acted on.
    """


def v3_error(status: int, body: object, *, not_found_errcode: str | None = None) -> WeChatError:
    """Our error for an APIv3 error answer; `not_found_errcode`: the business's name for this call's 404."""
    code = str(body.get("code", "")) if isinstance(body, dict) else ""
    message = str(body.get("message", "")) if isinstance(body, dict) else ""
    text = f"WeChat Pay APIv3 answered HTTP {status} {code or '(no code)'}: {message}".strip()
    details = {"v3_code": code, "message": message, "status": status}
    if code == "STATEMENT_CREATING":
        return WeChatTransientError("the bill is not made yet", errcode="BILL_CREATING", body=details)
    if code in TRANSIENT_CODES or status >= 500:
        return WeChatTransientError(text, errcode=code or status, body=details)
    if code in RATE_LIMITED_CODES or status == 429:
        return WeChatRateLimited(text, errcode="FREQUENCY_LIMITED", body=details)
    if code in MISCONFIGURED_CODES or status == 401:
        return WeChatMisconfigured(text, errcode=code or status, body=details)
    if code in BUSINESS_ERRCODES:
        return WeChatPermanentError(text, errcode=BUSINESS_ERRCODES[code], body=details)
    if status == 404 and not_found_errcode:
        return WeChatPermanentError(text, errcode=not_found_errcode, body=details)
    return WeChatPermanentError(text, errcode=code or status, body=details)


def error_is_a_fact(error: WeChatError) -> bool:
    """Whether the business acts on `error` as a statement about an order, refund or bill (so it must be signed).

    Transient errors only make us try again, and misconfigured ones only stop us: neither moves money.
    """
    return isinstance(error, WeChatPermanentError) and not isinstance(error, WeChatMisconfigured)
