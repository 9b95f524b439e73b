"""WeChat failures, split by what the caller should do about them.

Transient: try again later (busy, rate limited, timed out, 5xx). Permanent: retrying
the same request cannot succeed (bad code, bad credentials, content refused).
"""

import requests
from wechatpy.exceptions import WeChatClientException

# -1 system busy; 45009 daily quota; 45011 per-minute frequency limit.
TRANSIENT_ERRCODES = frozenset({-1, 45009, 45011})
# The access token is invalid, malformed or expired: refetch it and retry once.
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})


class WeChatError(Exception):
    def __init__(self, message: str, *, errcode: int | None = None):
        self.errcode = errcode
        super().__init__(f"WeChat error {errcode}: {message}" if errcode is not None else message)


class WeChatTransientError(WeChatError):
    pass


class WeChatTimeout(WeChatTransientError):
    """No answer in time. WeChat may still have acted on the request (a login code may be spent)."""


class WeChatPermanentError(WeChatError):
    pass


def error_for_errcode(errcode: int, message: str) -> WeChatError:
    error_class = WeChatTransientError if errcode in TRANSIENT_ERRCODES else WeChatPermanentError
    return error_class(message, errcode=errcode)


def error_from_exception(exc: Exception) -> WeChatError:
    """Translate a wechatpy or requests exception into one of ours."""
    if isinstance(exc, WeChatError):
        return exc
    if isinstance(exc, requests.Timeout):
        return WeChatTimeout(f"no answer from WeChat in time ({type(exc).__name__})")
    if isinstance(exc, requests.ConnectionError):
        return WeChatTransientError(f"could not reach WeChat ({type(exc).__name__})")
    if isinstance(exc, WeChatClientException):
        if exc.errcode is None:  # wechatpy raises this for an HTTP error status
            status = getattr(exc.response, "status_code", None)
            error_class = WeChatTransientError if status is None or status >= 500 else WeChatPermanentError
            return error_class(f"HTTP {status} from WeChat")
        return error_for_errcode(int(exc.errcode), str(exc.errmsg))
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        error_class = WeChatTransientError if status >= 500 else WeChatPermanentError
        return error_class(f"HTTP {status} from WeChat")
    if isinstance(exc, requests.RequestException):
        return WeChatTransientError(f"request to WeChat failed ({type(exc).__name__})")
    raise TypeError(f"not a WeChat failure: {exc!r}") from exc
