"""Messages and events WeChat pushes to an Official Account's server, signed and (in safe mode) encrypted.

Follows 公众号文档 "基础消息能力 / 接入概述" (the signature) and "消息加解密说明" (compatible
and safe modes). Written from those documents on purpose, not with wechatpy's crypto:
the product verifies with wechatpy, and a stand-in that shared its code could not catch
a bug in it.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import struct
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput
from wechat_sandbox.official_account_followers import follower_event_apply
from wechat_sandbox.outbox import Delivery, Outbox
from wechat_sandbox.protocols import json_response
from wechat_sandbox.routes import Route

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox, SandboxApp

# 消息加解密说明: PKCS#7 padding to a multiple of 32 bytes (not AES's 16-byte block).
PADDING_BLOCK_BYTES = 32
# Events a follower's actions cause (接收事件推送); event_key goes with the last three.
FOLLOWER_EVENTS = ("subscribe", "unsubscribe", "SCAN", "CLICK", "VIEW")


def signature(*parts: str) -> str:
    """接入概述: the values sorted as strings, concatenated, SHA-1 in lowercase hex."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def encrypt(message: bytes, *, encoding_aes_key: str, appid: str) -> str:
    """消息加解密说明: AES-256-CBC of random(16) + length(4, network order) + message + appid.

    The key is the 43-character EncodingAESKey base64-decoded (with "=" appended);
    the IV is the key's first 16 bytes.
    """
    key = base64.b64decode(encoding_aes_key + "=")
    plain = secrets.token_bytes(16) + struct.pack(">I", len(message)) + message + appid.encode()
    padding = PADDING_BLOCK_BYTES - len(plain) % PADDING_BLOCK_BYTES
    plain += bytes([padding]) * padding
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def original_id(appid: str) -> str:
    """The account's original ID, ToUserName in every push: "gh_" and 12 hex characters, taken from the appid."""
    return "gh_" + appid.removeprefix("wx")[:12]


XmlValue = str | int | dict[str, "XmlValue"] | list["XmlValue"]


def message_xml(fields: dict[str, XmlValue]) -> str:
    """WeChat's push XML: text in CDATA, numbers bare; a dict nests, a list repeats its element
    ({"item": [a, b]} is <item>a</item><item>b</item>, as in MASSSENDJOBFINISH's ResultList)."""

    def element(name: str, value: XmlValue) -> str:
        if isinstance(value, dict):
            return f"<{name}>" + "".join(element(key, inner) for key, inner in value.items()) + f"</{name}>"
        if isinstance(value, list):
            return "".join(element(name, inner) for inner in value)
        if isinstance(value, int):
            return f"<{name}>{value}</{name}>"
        return f"<{name}><![CDATA[{value.replace(']]>', ']]]]><![CDATA[>')}]]></{name}>"

    return "<xml>" + "".join(element(name, value) for name, value in fields.items()) + "</xml>"


def push_to_official_account(
    sandbox: Sandbox,
    app: SandboxApp,
    *,
    openid: str,
    fields: dict[str, XmlValue],
    description: str,
    delay: float = 0,
) -> Delivery:
    """Queue a push to the account's callback URL, as its message mode wants it, `delay` seconds from now.

    Call under the lock.
    """
    callback = app.callback
    if callback is None or callback.token is None:
        raise BadControlInput(f"{app.appid} has no callback set up; register it with one (POST /sandbox/apps)")
    now = sandbox.now()
    message = message_xml({"ToUserName": original_id(app.appid), "FromUserName": openid, **fields})
    timestamp, nonce = str(int(now)), str(secrets.randbelow(10**10))
    query = {"signature": signature(callback.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}
    query["openid"] = openid
    body = message
    if callback.mode in {"compatible", "safe"}:
        if callback.encoding_aes_key is None:
            raise BadControlInput(f"{app.appid} is in {callback.mode} mode: register it again with its AES key")
        encrypted = encrypt(message.encode(), encoding_aes_key=callback.encoding_aes_key, appid=app.appid)
        query |= {"encrypt_type": "aes", "msg_signature": signature(callback.token, timestamp, nonce, encrypted)}
        wrapper = {"ToUserName": original_id(app.appid), "Encrypt": encrypted}
        # Compatible mode carries the plain fields beside the ciphertext, so old and new code both read it.
        body = message_xml(wrapper if callback.mode == "safe" else {**wrapper, "FromUserName": openid, **fields})
    separator = "&" if "?" in callback.url else "?"
    return sandbox.part(Outbox).enqueue(
        url=f"{callback.url}{separator}{urlencode(query)}",
        body=body,
        content_type="text/xml",
        policy="official_account_push",
        description=description,
        now=now,
        due_at=now + delay,
    )


def send_follower_event(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid", "openid", "event", "event_key"?}: a follower's event, pushed to the account's callback URL (201).

    event is one of subscribe, unsubscribe, SCAN, CLICK, VIEW. The push is signed with
    the account's token and, in compatible or safe mode, encrypted with its
    EncodingAESKey; it is delivered at once and retried as WeChat retries (GET
    /sandbox/outbox shows every attempt). subscribe and unsubscribe also change who
    follows the account, as user/get and batchget then tell.
    """
    body = ControlInput(request, allowed={"appid", "openid", "event", "event_key"})
    appid, openid = body.text("appid", required=True), body.text("openid", required=True)
    event, event_key = body.text("event", required=True), body.text("event_key", max_length=256)
    if event not in FOLLOWER_EVENTS:
        raise BadControlInput(f"event must be one of {', '.join(FOLLOWER_EVENTS)}")
    with sandbox.lock:
        app = sandbox.registered_app(appid)
        if app.kind != "official_account":
            raise BadControlInput(f"{appid} is a {app.kind}; events are pushed to Official Accounts")
        fields: dict[str, XmlValue] = {"CreateTime": int(sandbox.now()), "MsgType": "event", "Event": event}
        if event_key is not None:
            fields["EventKey"] = event_key
        delivery = push_to_official_account(
            sandbox, app, openid=openid, fields=fields, description=f"{event} event from {openid}"
        )
        follower_event_apply(sandbox, appid=appid, openid=openid, event=event)
        return json_response(delivery.as_dict(), 201)


ROUTES = (Route("/sandbox/official-account/events", ("POST",), send_follower_event),)
