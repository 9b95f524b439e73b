"""What WeChat pushes to the Mini Program's message push URL (消息推送): verified, decrypted, parsed, told once.

小程序文档 "消息推送" signs and encrypts pushes as Official Accounts' are (the same signature, the
same compatible and safe modes), so the checks are official_account_inbox's; only the settings and
the signal differ. Events this product acts on: the shipping service's trade_manage_order_settlement
(发货信息管理服务, 九、相关消息推送), read by `order_settlement_from_message`.
"""

import hashlib
import json
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from wechat.official_account_inbox import (
    MAX_BODY_BYTES,
    SEEN_FOR_SECONDS,
    PushRefused,
    _decrypt,
    _parse_xml,
    _signature_check,
)
from wechat.signals import mini_program_event_received

SETTLEMENT_EVENT = "trade_manage_order_settlement"


@dataclass(frozen=True)
class MiniProgramPushConfig:
    """The shape official_account_inbox's checks read (as an OfficialAccount's): token, AES key, mode."""

    appid: str
    callback_token: str
    encoding_aes_key: str
    message_mode: str


@dataclass(frozen=True)
class OrderSettlement:
    """trade_manage_order_settlement. confirm_receive_time is there only once the buyer (or WeChat,
    automatically) confirmed receipt and the payment settled; the push at shipping has none."""

    transaction_id: str
    merchant_id: str
    merchant_trade_no: str
    confirm_receive_method: int | None
    confirm_receive_time: int | None

    @property
    def receipt_confirmed(self) -> bool:
        return self.confirm_receive_time is not None


def mini_program_push_config(appid: str) -> MiniProgramPushConfig | None:
    """The settings' Mini Program's push set-up, None for another appid or when no push token is set."""
    if appid != settings.WECHAT_MINI_PROGRAM_APPID or not settings.WECHAT_MINI_PROGRAM_PUSH_TOKEN:
        return None
    key = settings.WECHAT_MINI_PROGRAM_PUSH_AES_KEY
    return MiniProgramPushConfig(
        appid=appid,
        callback_token=settings.WECHAT_MINI_PROGRAM_PUSH_TOKEN,
        encoding_aes_key=key,
        message_mode="safe" if key else "plain",
    )


def mini_program_push_receive(*, config: MiniProgramPushConfig, query: dict[str, str], body: bytes) -> dict | None:
    """A POSTed push: checked, decrypted if encrypted, parsed, and signalled unless already seen (None then)."""
    if len(body) > MAX_BODY_BYTES:
        raise PushRefused(413, "body too large for a WeChat push")
    _signature_check(config, query, "signature")
    envelope = _parse_xml(body)
    if query.get("encrypt_type") == "aes":
        if "Encrypt" not in envelope:
            raise PushRefused(400, "encrypt_type=aes but no Encrypt element")
        _signature_check(config, query, "msg_signature", envelope["Encrypt"])
        message = _parse_xml(_decrypt(config, query, body).encode())
    elif config.message_mode == "safe":
        raise PushRefused(403, "this Mini Program is in safe mode: pushes must be encrypted")
    else:
        message = envelope
    seen_key = f"wechat:mp-push:{config.appid}:{_identity(message)}"
    if cache.get(seen_key):
        return None
    mini_program_event_received.send(sender=MiniProgramPushConfig, appid=config.appid, message=message)
    cache.set(seen_key, True, timeout=SEEN_FOR_SECONDS)
    return message


def _identity(message: dict) -> str:
    # A retried push repeats its whole content. FromUserName + CreateTime (the Official Account rule) is not
    # enough here: the shipping service's two settlement pushes for one payment can share a second.
    return hashlib.sha256(json.dumps(message, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _number(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else None


def order_settlement_from_message(message: dict) -> OrderSettlement | None:
    """The settlement event in a push, None for any other push or one without a payment named."""
    if message.get("MsgType") != "event" or message.get("Event") != SETTLEMENT_EVENT:
        return None
    transaction_id = str(message.get("transaction_id") or "").strip()
    trade_no = str(message.get("merchant_trade_no") or "").strip()
    if not transaction_id and not trade_no:
        return None
    return OrderSettlement(
        transaction_id=transaction_id,
        merchant_id=str(message.get("merchant_id") or "").strip(),
        merchant_trade_no=trade_no,
        confirm_receive_method=_number(message.get("confirm_receive_method")),
        confirm_receive_time=_number(message.get("confirm_receive_time")),
    )
