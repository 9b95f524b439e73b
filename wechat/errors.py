"""WeChat failures, split by what the caller should do about them.

Transient, the same request may succeed later:
- WeChatTransientError itself: busy (-1), unreachable, 5xx. Retry soon.
- WeChatTimeout: no answer in time; WeChat may still have acted on the request.
- WeChatRateLimited: over a per-minute frequency limit (45011). Retrying sooner than
  `retry_after` seconds is refused too, so a person waiting is not kept waiting for it.
- WeChatQuotaExhausted: a daily call quota is used up (45009), until midnight Beijing time.
Permanent, retrying the same request cannot succeed:
- WeChatPermanentError itself: a bad code, content refused, an order already paid.
- WeChatMisconfigured: our credentials or WeChat-side configuration are wrong (bad AppSecret,
  server IP not on the allowlist, API not granted). Only an operator can fix it.

Codes come from WeChat's "Global return codes" (全局返回码说明) and, for WeChat Pay v2, the
`err_code` table of each API's "Error codes" (错误码) section, where codes are text.
"""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import requests
from wechatpy.exceptions import WeChatClientException, WeChatPayException

# The access token is invalid, malformed or expired: refetch it and retry once.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})
BUSY_ERRCODES = frozenset({-1, "SYSTEMERROR", "BANKERROR"})
RATE_LIMIT_ERRCODES = frozenset({45011, "FREQUENCY_LIMITED"})
QUOTA_ERRCODES = frozenset({45009})
MISCONFIGURED_ERRCODES = frozenset(
    {
        40013,  # invalid appid
        40125,  # invalid appsecret
        40164,  # calling IP not on the app's IP allowlist
        41002,  # appid missing
        41004,  # appsecret missing
        48001,  # API not authorised for this app
        "NOAUTH",  # merchant lacks permission for this API
        "APPID_NOT_EXIST",
        "MCHID_NOT_EXIST",
        "APPID_MCHID_NOT_MATCH",
        "SIGNERROR",  # the API key we sign with is not the merchant's
    }
)
BEIJING = ZoneInfo("Asia/Shanghai")


class WeChatError(Exception):
    def __init__(self, message: str, *, errcode: int | str | None = None, body: dict | None = None):
        self.errcode = errcode
        # WeChat's whole JSON answer, when it carries more than the code: 45065 names the earlier msg_id.
        self.body = body or {}
        super().__init__(f"WeChat error {errcode}: {message}" if errcode is not None else message)


class WeChatTransientError(WeChatError):
    pass


class WeChatTimeout(WeChatTransientError):
    """No answer in time. WeChat may still have acted on the request (a login code may be spent)."""


class WeChatRateLimited(WeChatTransientError):
    retry_after: float = 60.0  # WeChat counts per minute: "retry next minute"


class WeChatQuotaExhausted(WeChatRateLimited):
    @property
    def retry_after(self) -> float:
        """Seconds until WeChat resets daily quotas, at midnight Beijing time."""
        now = datetime.now(BEIJING)
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), tzinfo=BEIJING)
        return (midnight - now).total_seconds()


class WeChatPermanentError(WeChatError):
    pass


class WeChatMisconfigured(WeChatPermanentError):
    pass


def error_for_errcode(errcode: int | str, message: str, *, body: dict | None = None) -> WeChatError:
    """Our error for a WeChat errcode (an int) or WeChat Pay err_code (text)."""
    if errcode in BUSY_ERRCODES:
        error_class = WeChatTransientError
    elif errcode in RATE_LIMIT_ERRCODES:
        error_class = WeChatRateLimited
    elif errcode in QUOTA_ERRCODES:
        error_class = WeChatQuotaExhausted
    elif errcode in MISCONFIGURED_ERRCODES:
        error_class = WeChatMisconfigured
    else:
        error_class = WeChatPermanentError
    return error_class(message, errcode=errcode, body=body)


def error_from_exception(exc: Exception) -> WeChatError:
    """Translate a wechatpy or requests exception into one of ours."""
    if isinstance(exc, WeChatError):
        return exc
    if isinstance(exc, requests.Timeout):
        return WeChatTimeout(f"no answer from WeChat in time ({type(exc).__name__})")
    if isinstance(exc, requests.ConnectionError):
        return WeChatTransientError(f"could not reach WeChat ({type(exc).__name__})")
    if isinstance(exc, WeChatClientException):
        errcode = _errcode(exc.errcode)
        if errcode is not None:
            return error_for_errcode(errcode, str(exc.errmsg or ""), body=_json_body(exc.response))
        if isinstance(exc, WeChatPayException) and exc.return_code is not None:
            # return_code FAIL without an err_code: WeChat Pay refused the call itself (bad parameters).
            return WeChatPermanentError(f"WeChat Pay refused the request: {exc.return_msg}")
        return _error_for_status(getattr(exc.response, "status_code", None))  # wechatpy's wrapping of an HTTP error
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return _error_for_status(exc.response.status_code)
    if isinstance(exc, requests.RequestException):
        return WeChatTransientError(f"request to WeChat failed ({type(exc).__name__})")
    raise TypeError(f"not a WeChat failure: {exc!r}") from exc


def _errcode(raw: object) -> int | str | None:
    """WeChat's numeric errcode as an int (even if sent as text); WeChat Pay's err_code stays text."""
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        return str(raw)


def _json_body(response: object) -> dict | None:
    try:
        body = response.json()  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _error_for_status(status: int | None) -> WeChatError:
    error_class = WeChatTransientError if status is None or status >= 500 else WeChatPermanentError
    return error_class(f"HTTP {status} from WeChat")
