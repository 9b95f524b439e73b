"""What WeChat pushes to an Official Account's callback URL: verified, decrypted, parsed, told once.

Follows 公众号文档 "基础消息能力 / 接入概述" (the signature), "消息加解密说明" (compatible and
safe modes) and "接收事件推送" (WeChat retries a push it thinks unanswered; dedupe events by
FromUserName + CreateTime, messages by MsgId).
"""

import hashlib
import hmac
import logging
import time

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from django.core.cache import cache
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException

from wechat.models import OfficialAccount
from wechat.official_account_events import official_account_event_from_message
from wechat.signals import official_account_event_received, official_account_message_received

logger = logging.getLogger(__name__)

# WeChat's pushes are a few KB; a larger body is not from WeChat.
MAX_BODY_BYTES = 64 * 1024
# A signed request older than this, or dated this far ahead, is refused: the signature does not cover a plain-mode body,
# so an old captured URL must not be replayable with a body of an attacker's choosing.
MAX_AGE_SECONDS = 300
# WeChat's retries come within seconds; remembering a push this long makes each one count once.
SEEN_FOR_SECONDS = 600


class PushRefused(Exception):
    """Not a genuine, well-formed push; answered with `http_status` and the message as plain text."""

    def __init__(self, http_status: int, message: str):
        self.http_status = http_status
        super().__init__(message)


def signature_of(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def url_verify(*, account: OfficialAccount, query: dict[str, str]) -> str:
    """GET when staff save the URL in WeChat's console: the echostr to answer, if WeChat signed it."""
    _signature_check(account, query, "signature")
    return query.get("echostr", "")


def push_receive(*, account: OfficialAccount, query: dict[str, str], body: bytes) -> dict | None:
    """A POSTed message or event: checked, decrypted if encrypted, parsed, and signalled unless already seen.

    Returns the message, or None for a repeat of one already handled.
    """
    if len(body) > MAX_BODY_BYTES:
        raise PushRefused(413, "body too large for a WeChat push")
    _signature_check(account, query, "signature")
    envelope = _parse_xml(body)
    if query.get("encrypt_type") == "aes":
        if "Encrypt" not in envelope:
            raise PushRefused(400, "encrypt_type=aes but no Encrypt element")
        _signature_check(account, query, "msg_signature", envelope["Encrypt"])
        message = _parse_xml(_decrypt(account, query, body).encode())
    elif account.message_mode == OfficialAccount.MessageMode.SAFE:
        raise PushRefused(403, "this account is in safe mode: pushes must be encrypted")
    else:
        message = envelope
    seen_key = f"wechat:oa-push:{account.appid}:{_identity(message)}"
    if cache.get(seen_key):
        return None
    official_account_message_received.send(sender=OfficialAccount, account=account, message=message)
    _event_announce(account, message)
    cache.set(seen_key, True, timeout=SEEN_FOR_SECONDS)
    return message


def _event_announce(account: OfficialAccount, message: dict) -> None:
    try:
        event = official_account_event_from_message(message)
    except ValueError as unusable:
        # Signed by WeChat yet malformed: nothing to act on, and WeChat must still get its "success".
        logger.warning("ignored an event pushed to %s: %s", account.appid, unusable)
        return
    if event is not None:
        official_account_event_received.send(sender=type(event), account=account, event=event)


def _signature_check(account: OfficialAccount, query: dict[str, str], name: str, *extra: str) -> None:
    timestamp, nonce, given = query.get("timestamp", ""), query.get("nonce", ""), query.get(name, "")
    if not timestamp.isdigit() or not nonce or not given:
        raise PushRefused(400, f"timestamp, nonce and {name} are required")
    if int(timestamp) < time.time() - MAX_AGE_SECONDS:
        raise PushRefused(403, "timestamp too old")
    # A timestamp far ahead would outlive the replay window as long as it likes: the same bound both ways.
    if int(timestamp) > time.time() + MAX_AGE_SECONDS:
        raise PushRefused(403, "timestamp in the future")
    expected = signature_of(account.callback_token, timestamp, nonce, *extra)
    if not hmac.compare_digest(expected, given):
        raise PushRefused(403, f"{name} does not match")


def _decrypt(account: OfficialAccount, query: dict[str, str], body: bytes) -> str:
    crypto = WeChatCrypto(account.callback_token, account.encoding_aes_key, account.appid)
    try:
        return crypto.decrypt_message(body, query["msg_signature"], query["timestamp"], query["nonce"])
    except (InvalidSignatureException, InvalidAppIdException) as error:
        raise PushRefused(403, f"cannot decrypt: {type(error).__name__}") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise PushRefused(400, "Encrypt is not a valid ciphertext") from error


def _parse_xml(body: bytes) -> dict:
    """WeChat's push XML as a dict; DTDs and entities (billion laughs, external entities) refused."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (DefusedXmlException, SyntaxError) as error:  # ParseError is a SyntaxError
        raise PushRefused(400, f"not acceptable XML: {type(error).__name__}") from error
    message = _element_value(root)
    if not isinstance(message, dict):
        raise PushRefused(400, "empty XML")
    return message


def _element_value(element) -> dict | list | str:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    value: dict = {}
    for child in children:
        child_value = _element_value(child)
        if child.tag in value:  # repeated elements (e.g. each article's URL) become a list
            earlier = value[child.tag]
            value[child.tag] = [*earlier, child_value] if isinstance(earlier, list) else [earlier, child_value]
        else:
            value[child.tag] = child_value
    return value


def _identity(message: dict) -> str:
    """接收普通消息 / 接收事件推送: dedupe messages by MsgId, events by FromUserName + CreateTime."""
    message_id = message.get("MsgId") or message.get("MsgID")
    if message_id and message.get("MsgType") != "event":
        return f"message:{message_id}"
    parts = (message.get("FromUserName", ""), message.get("CreateTime", ""), message.get("Event", ""))
    if message_id:  # MASSSENDJOBFINISH carries the mass message's id: one finish per job
        parts += (str(message_id),)
    return "event:" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
