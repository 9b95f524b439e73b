"""Mini Program APIs: login (jscode2session)."""

from dataclasses import dataclass

from wechat.clients import mini_program_client
from wechat.errors import WeChatPermanentError
from wechat.models import MiniProgram
from wechat.retry import retry_transient

# 40029 invalid code; 40163 code already used (WeChat answers either for a reused code).
INVALID_CODE_ERRCODES = frozenset({40029, 40163})
BLOCKED_USER_ERRCODE = 40226


class LoginCodeRefused(WeChatPermanentError):
    """WeChat refused the code: unknown, expired, or already used."""


class BlockedUser(WeChatPermanentError):
    pass


@dataclass(frozen=True)
class MiniProgramSession:
    openid: str
    session_key: str
    unionid: str | None

    def __repr__(self) -> str:  # keep session_key out of logs and tracebacks
        return f"MiniProgramSession(openid={self.openid!r}, unionid={self.unionid!r})"


def code_to_session(*, code: str, mini_program: MiniProgram | None = None) -> MiniProgramSession:
    """Exchange a wx.login() code for the user's identity in `mini_program` (None: the settings'). A code works once.

    WeChat issues a code for one app: asked with another app's id and secret, it answers 40029.
    """
    try:
        result = retry_transient(lambda: mini_program_client(mini_program).wxa.code_to_session(code))
    except WeChatPermanentError as error:
        if error.errcode in INVALID_CODE_ERRCODES:
            raise LoginCodeRefused(str(error), errcode=error.errcode) from error
        if error.errcode == BLOCKED_USER_ERRCODE:
            raise BlockedUser(str(error), errcode=error.errcode) from error
        raise
    return MiniProgramSession(
        openid=result["openid"], session_key=result["session_key"], unionid=result.get("unionid") or None
    )
