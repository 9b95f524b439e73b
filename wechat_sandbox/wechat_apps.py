"""The apps the sandbox knows: Official Accounts and Mini Programs, their secret (as a digest) and callback setup."""

from __future__ import annotations

import re
from dataclasses import InitVar, dataclass, field
from typing import Literal

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput
from wechat_sandbox.redaction import digest, matches

AppKind = Literal["official_account", "mini_program"]
APP_KINDS: tuple[AppKind, ...] = ("official_account", "mini_program")
# The `app_kinds` of a route only an Official Account's token may call.
OFFICIAL_ACCOUNT: tuple[AppKind, ...] = ("official_account",)
MessageMode = Literal["plain", "compatible", "safe"]
MESSAGE_MODES: tuple[MessageMode, ...] = ("plain", "compatible", "safe")
# 公众号 "接入概述" (服务器配置): Token is 3-32 letters or digits; EncodingAESKey is 43
# characters from a-z, A-Z, 0-9; the URL is http(s).
CALLBACK_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9]{3,32}")
ENCODING_AES_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{43}")
CALLBACK_URL_SHAPE = re.compile(r"https?://[^\s/?#]+[^\s]*")
CALLBACK_FIELDS = ("url", "token", "encoding_aes_key", "mode")
# 公众号 "群发接口和原创校验" (前言): a subscription account may mass-send once a day; a
# service account 100 times a day, each follower receiving at most four a (calendar) month.
# An Official Account registered without saying is a subscription account: the kind anyone
# can register (individuals only get that one), and the stricter quota, so code that fits
# it fits both.
AccountType = Literal["subscription", "service"]
ACCOUNT_TYPES: tuple[AccountType, ...] = ("subscription", "service")
DEFAULT_ACCOUNT_TYPE: AccountType = "subscription"


@dataclass(frozen=True)
class CallbackConfig:
    """Where and how WeChat pushes messages and events to the app's server.

    The token signs each push and the AES key encrypts it in compatible and safe
    mode, so the sandbox needs them in clear to send callbacks; they are never
    shown, and snapshots carry only their digests.
    """

    url: str
    mode: MessageMode
    token: str | None = field(default=None, repr=False)
    encoding_aes_key: str | None = field(default=None, repr=False)

    def public(self) -> dict:
        return {
            "url": self.url,
            "mode": self.mode,
            "token_set": self.token is not None,
            "encoding_aes_key_set": self.encoding_aes_key is not None,
        }

    def to_snapshot(self) -> dict:
        return {
            "url": self.url,
            "mode": self.mode,
            "token_sha256": digest(self.token) if self.token else None,
            "encoding_aes_key_sha256": digest(self.encoding_aes_key) if self.encoding_aes_key else None,
        }

    @classmethod
    def from_snapshot(cls, data: dict) -> CallbackConfig:
        # The token and key are not in a snapshot: register the app again to send callbacks.
        return cls(url=str(data["url"]), mode=_mode(data["mode"]))

    @classmethod
    def from_control_input(cls, body: ControlInput) -> CallbackConfig:
        url = body.text("url", required=True, max_length=1024)
        if not CALLBACK_URL_SHAPE.fullmatch(url):
            raise BadControlInput("callback.url must be an http:// or https:// URL")
        token = body.text("token", required=True, max_length=32)
        if not CALLBACK_TOKEN_SHAPE.fullmatch(token):
            raise BadControlInput("callback.token must be 3 to 32 letters or digits, as WeChat requires")
        mode = _mode(body.text("mode") or "plain")
        key = body.text("encoding_aes_key", max_length=43)
        if key is not None and not ENCODING_AES_KEY_SHAPE.fullmatch(key):
            raise BadControlInput("callback.encoding_aes_key must be 43 letters or digits, as WeChat requires")
        if key is None and mode != "plain":
            raise BadControlInput(f"callback.encoding_aes_key is required in {mode} mode")
        return cls(url=url, mode=mode, token=token, encoding_aes_key=key)


def _mode(value: object) -> MessageMode:
    if value not in MESSAGE_MODES:
        raise BadControlInput(f"callback.mode must be one of {', '.join(MESSAGE_MODES)}")
    return value  # type: ignore[return-value]


@dataclass(frozen=True, kw_only=True)
class SandboxApp:
    """An app; built with its `secret`, of which it keeps only the SHA-256 digest."""

    appid: str
    kind: AppKind
    secret: InitVar[str | None] = None
    secret_sha256: str = field(default="", repr=False)
    callback: CallbackConfig | None = None
    # Official Accounts only (None for a Mini Program): what their mass-send quota is.
    account_type: AccountType | None = None

    def __post_init__(self, secret: str | None) -> None:
        if secret is not None:
            object.__setattr__(self, "secret_sha256", digest(secret))
        if not self.secret_sha256:
            raise ValueError(f"app {self.appid} needs its secret")
        if self.kind == "official_account" and self.account_type is None:
            object.__setattr__(self, "account_type", DEFAULT_ACCOUNT_TYPE)
        if self.kind != "official_account" and self.account_type is not None:
            raise BadControlInput("account_type is for Official Accounts only")
        if self.account_type is not None and self.account_type not in ACCOUNT_TYPES:
            raise BadControlInput(f"account_type must be one of {', '.join(ACCOUNT_TYPES)}")

    def has_secret(self, secret: str) -> bool:
        return matches(secret, self.secret_sha256)

    def public(self) -> dict:
        """What the control API shows: never the secret, the callback token or the AES key."""
        shown: dict = {"appid": self.appid, "kind": self.kind}
        if self.account_type is not None:
            shown["account_type"] = self.account_type
        if self.callback is not None:
            shown["callback"] = self.callback.public()
        return shown

    def to_snapshot(self) -> dict:
        return {
            "appid": self.appid,
            "kind": self.kind,
            "secret_sha256": self.secret_sha256,
            "callback": self.callback.to_snapshot() if self.callback else None,
            "account_type": self.account_type,
        }

    @classmethod
    def from_snapshot(cls, data: dict) -> SandboxApp:
        if data["kind"] not in APP_KINDS:
            raise BadControlInput(f"app kind must be one of {', '.join(APP_KINDS)}")
        if not re.fullmatch(r"[0-9a-f]{64}", str(data["secret_sha256"])):
            raise BadControlInput("secret_sha256 must be a SHA-256 hex digest")
        callback = data.get("callback")
        return cls(
            appid=str(data["appid"]),
            kind=data["kind"],
            secret_sha256=data["secret_sha256"],
            callback=CallbackConfig.from_snapshot(callback) if callback else None,
            account_type=data.get("account_type"),
        )
