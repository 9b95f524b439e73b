"""Mini Program subscribe messages: 发送订阅消息 (cgi-bin/message/subscribe/send).

WeChat takes no idempotency key for this call and offers no way to ask whether a message went, so
what a caller must know is whether a failed call can have sent anything:
- SubscribeMessageRefused: WeChat answered with an error (43101 the buyer has no acceptance left,
  47003 a value breaks its keyword's type, 40037 unknown template, 40003 bad openid, 41030 bad page):
  nothing was sent, and sending the same again fails again.
- SubscribeMessageNotSent: transient, and certainly not sent (WeChat answered busy or a rate limit,
  or the connection never opened): the same call may be made again.
- SubscribeMessageOutcomeUnknown: the request may have reached WeChat (a timeout, a connection cut
  while waiting, an HTTP error): it may have been sent, so repeating it may send a second message.
"""

from dataclasses import dataclass

import requests
from urllib3.exceptions import NewConnectionError

from wechat.clients import mini_program_client
from wechat.errors import WeChatError, WeChatPermanentError, WeChatTransientError
from wechat.models import MiniProgram

# 发送订阅消息, errcode 的合法值.
NOT_ACCEPTED_ERRCODE = 43101
VALUE_REFUSED_ERRCODE = 47003
TEMPLATE_UNKNOWN_ERRCODE = 40037


@dataclass(frozen=True)
class SubscribeMessageSent:
    msgid: str


class SubscribeMessageRefused(WeChatPermanentError):
    pass


class SubscribeMessageNotSent(WeChatTransientError):
    pass


class SubscribeMessageOutcomeUnknown(WeChatTransientError):
    pass


def subscribe_message_send(
    *, mini_program: MiniProgram | None, openid: str, template_id: str, page: str, data: dict[str, str]
) -> SubscribeMessageSent:
    """Send one message of `template_id` to `openid` with `data` ({keyword: value}); raises one of the errors above."""
    payload = {keyword: {"value": value} for keyword, value in data.items()}
    client = mini_program_client(mini_program)
    try:
        answer = client.wxa.send_subscribe_message(openid, template_id, payload, page=page or None)
    except WeChatError as error:
        raise _classified(error) from error
    return SubscribeMessageSent(msgid=str(answer.get("msgid") or ""))


def _classified(error: WeChatError) -> WeChatError:
    if error.errcode is not None:  # WeChat answered: nothing was sent
        error_class = SubscribeMessageNotSent if isinstance(error, WeChatTransientError) else SubscribeMessageRefused
        return error_class(str(error), errcode=error.errcode, body=error.body)
    if _never_connected(error):
        return SubscribeMessageNotSent(str(error))
    return SubscribeMessageOutcomeUnknown(str(error))


def _never_connected(error: BaseException) -> bool:
    """Whether the failure was opening the connection, so no byte of the request reached WeChat."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, requests.exceptions.ConnectTimeout):
            return True
        if isinstance(cause, requests.exceptions.ConnectionError):
            reason = getattr(cause.args[0], "reason", None) if cause.args else None
            return isinstance(reason, NewConnectionError)
        cause = cause.__cause__
    return False
