"""Access tokens: cgi-bin/token, cgi-bin/stable_token, and the check every token-authenticated endpoint runs.

The two endpoints keep separate tokens, as WeChat does: fetching one kind never
retires a token of the other kind. Tokens are kept only as SHA-256 digests.
"""

from __future__ import annotations

import math
import re
import secrets
from dataclasses import asdict, dataclass, field
from typing import Literal

from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import WeChatErrcode
from wechat_sandbox.protocols import json_response
from wechat_sandbox.redaction import digest
from wechat_sandbox.routes import Route, json_body_of, route_of
from wechat_sandbox.state import Sandbox, SandboxApp, snapshot_part

TOKEN_LIFETIME_SECONDS = 7200
# cgi-bin/token: a new fetch leaves earlier tokens this long to live.
# stable_token: a new token is issued once the current one has less than this left.
OVERLAP_SECONDS = 300
FORCE_REFRESH_INTERVAL_SECONDS = 30
FORCE_REFRESHES_PER_DAY = 20
DAY_SECONDS = 86400
# Dead tokens are kept this long so a late caller hears "expired" rather than "unknown".
FORGET_AFTER_SECONDS = DAY_SECONDS
# Our tokens match this; a value that does not is malformed (40014), not merely unknown (40001).
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{64,512}")


@dataclass
class AccessToken:
    sha256: str  # of the token; the token itself was handed out once and never kept
    appid: str
    endpoint: Literal["token", "stable_token"]
    expires_at: float
    retired_at: float = math.inf  # superseded: refused as "not latest" (40001) from then on

    def dies_at(self) -> float:
        return min(self.expires_at, self.retired_at)

    def refusal(self, now: float) -> int | None:
        """The errcode a call with this token gets now, or None while it is good: whichever end came first."""
        if now < self.dies_at():
            return None
        return 42001 if self.expires_at <= self.retired_at else 40001

    def to_snapshot(self) -> dict:
        data = asdict(self)
        data["retired_at"] = None if math.isinf(self.retired_at) else self.retired_at
        return data

    @classmethod
    def from_snapshot(cls, data: dict) -> AccessToken:
        if data["endpoint"] not in ("token", "stable_token") or not re.fullmatch(r"[0-9a-f]{64}", data["sha256"]):
            raise ValueError("an access token needs its endpoint and SHA-256")
        retired_at = data["retired_at"]
        return cls(
            sha256=data["sha256"],
            appid=str(data["appid"]),
            endpoint=data["endpoint"],
            expires_at=float(data["expires_at"]),
            retired_at=math.inf if retired_at is None else float(retired_at),
        )


@snapshot_part("tokens")
@dataclass
class TokenLedger:
    """Every token issued and not yet forgotten (by digest), and each app's current stable token."""

    tokens: dict[str, AccessToken] = field(default_factory=dict)
    current_stable: dict[str, AccessToken] = field(default_factory=dict)
    forced_refreshes: dict[str, list[float]] = field(default_factory=dict)  # appid -> times
    # stable_token hands the current token out again, so its value is kept, in memory
    # only: a snapshot has digests alone, and a restored sandbox issues a fresh stable
    # token on the next call (the restored one still works until it expires).
    current_stable_values: dict[str, str] = field(default_factory=dict, repr=False)

    def issue(self, *, appid: str, endpoint: Literal["token", "stable_token"], now: float) -> tuple[AccessToken, str]:
        """A new token and its value, which only the caller's answer ever carries."""
        forget_before = now - FORGET_AFTER_SECONDS
        self.tokens = {key: token for key, token in self.tokens.items() if token.dies_at() > forget_before}
        value = secrets.token_urlsafe(102)
        token = AccessToken(
            sha256=digest(value), appid=appid, endpoint=endpoint, expires_at=now + TOKEN_LIFETIME_SECONDS
        )
        self.tokens[token.sha256] = token
        return token, value

    def forget_app(self, appid: str) -> None:
        self.tokens = {key: token for key, token in self.tokens.items() if token.appid != appid}
        self.current_stable.pop(appid, None)
        self.current_stable_values.pop(appid, None)
        self.forced_refreshes.pop(appid, None)

    def to_snapshot(self) -> dict:
        return {
            "tokens": [token.to_snapshot() for token in self.tokens.values()],
            "current_stable": {appid: token.sha256 for appid, token in self.current_stable.items()},
            "forced_refreshes": self.forced_refreshes,
        }

    @classmethod
    def from_snapshot(cls, data: dict) -> TokenLedger:
        tokens = {token.sha256: token for token in map(AccessToken.from_snapshot, data["tokens"])}
        return cls(
            tokens=tokens,
            current_stable={str(appid): tokens[sha256] for appid, sha256 in data["current_stable"].items()},
            forced_refreshes={
                str(appid): [float(at) for at in times] for appid, times in data["forced_refreshes"].items()
            },
        )


def authenticated_app(sandbox: Sandbox, request: Request) -> SandboxApp:
    """The app whose `access_token` query parameter this request carries, or WeChat's errcode for a bad one.

    Every endpoint that takes an access token starts with this. A token of an app
    kind the route does not serve gets 48001 "api unauthorized" (公众号 "全局返回码说明").
    """
    value = request.args.get("access_token", "")
    if not value:
        raise WeChatErrcode(41001)
    if not TOKEN_SHAPE.fullmatch(value):
        raise WeChatErrcode(40014)
    with sandbox.lock:
        token = sandbox.part(TokenLedger).tokens.get(digest(value))
        app = sandbox.app(token.appid) if token is not None else None
        if token is None or app is None:
            raise WeChatErrcode(40001)
        errcode = token.refusal(sandbox.now())
        if errcode:
            raise WeChatErrcode(errcode)
    kinds = route_of(request).app_kinds
    if kinds is not None and app.kind not in kinds:
        raise WeChatErrcode(48001)
    return app


def _token_answer(token: AccessToken, value: str, now: float) -> Response:
    return json_response({"access_token": value, "expires_in": int(token.expires_at - now)})


def fetch_token(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/token: GET ?grant_type=client_credential&appid=&secret= gives a new access token.

    Each fetch issues a new token; the app's earlier cgi-bin/token tokens stay valid
    for at most 5 more minutes. 40002 bad grant_type, 41002/41004 appid/secret
    missing, 40013 unknown appid, 40125 wrong secret.
    """
    if request.args.get("grant_type") != "client_credential":
        raise WeChatErrcode(40002)
    app = sandbox.app_from_credentials(request.args.get("appid"), request.args.get("secret"))
    with sandbox.lock:
        ledger = sandbox.part(TokenLedger)
        now = sandbox.now()
        for token in ledger.tokens.values():
            if token.appid == app.appid and token.endpoint == "token":
                token.retired_at = min(token.retired_at, now + OVERLAP_SECONDS)
        token, value = ledger.issue(appid=app.appid, endpoint="token", now=now)
        return _token_answer(token, value, now)


def fetch_stable_token(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/stable_token: POST {"grant_type": "client_credential", "appid", "secret", "force_refresh"}.

    force_refresh false returns the current stable token while it has 5 minutes or
    more to live, else a new one (the old one lives out its time). force_refresh
    true retires the current one at once and issues a new one, at most 20 times a
    day and 30 seconds apart (45009). 44002 empty body; 47001 a body that is not a
    JSON object or fields of the wrong JSON type.
    """
    body = json_body_of(request)
    if not all(isinstance(body.get(name, ""), str) for name in ("grant_type", "appid", "secret")):
        raise WeChatErrcode(47001)
    if not isinstance(body.get("force_refresh", False), bool):
        raise WeChatErrcode(47001)
    if body.get("grant_type") != "client_credential":
        raise WeChatErrcode(40002)
    app = sandbox.app_from_credentials(body.get("appid"), body.get("secret"))
    with sandbox.lock:
        ledger = sandbox.part(TokenLedger)
        now = sandbox.now()
        current = ledger.current_stable.get(app.appid)
        if body.get("force_refresh", False):
            _count_force_refresh(ledger, appid=app.appid, now=now)
            if current is not None:
                current.retired_at = now
        elif (
            current is not None
            and current.dies_at() - now >= OVERLAP_SECONDS
            and app.appid in ledger.current_stable_values
        ):
            return _token_answer(current, ledger.current_stable_values[app.appid], now)
        token, value = ledger.issue(appid=app.appid, endpoint="stable_token", now=now)
        ledger.current_stable[app.appid] = token
        ledger.current_stable_values[app.appid] = value
        return _token_answer(token, value, now)


def _count_force_refresh(ledger: TokenLedger, *, appid: str, now: float) -> None:
    """Record a forced refresh, or refuse it with 45009 when over WeChat's limits (a rolling day here)."""
    recent = [at for at in ledger.forced_refreshes.get(appid, []) if at > now - DAY_SECONDS]
    if len(recent) >= FORCE_REFRESHES_PER_DAY or (recent and now - recent[-1] < FORCE_REFRESH_INTERVAL_SECONDS):
        raise WeChatErrcode(45009)
    ledger.forced_refreshes[appid] = [*recent, now]


def get_callback_ip(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/getcallbackip: GET ?access_token= gives {"ip_list": [...]}; a cheap token-checked call."""
    authenticated_app(sandbox, request)
    return json_response({"ip_list": ["127.0.0.1"]})


def expire_tokens(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid"} ends the life of every token of that app now; the next call with one gets 42001."""
    appid = ControlInput(request, allowed={"appid"}).text("appid", required=True)
    with sandbox.lock:
        sandbox.registered_app(appid)
        now = sandbox.now()
        expired = [token for token in sandbox.part(TokenLedger).tokens.values() if token.appid == appid]
        for token in expired:
            token.expires_at = min(token.expires_at, now)
    return json_response({"appid": appid, "expired": len(expired)})


ROUTES = (
    Route("/cgi-bin/token", ("GET",), fetch_token),
    Route("/cgi-bin/stable_token", ("POST",), fetch_stable_token, json_body=True),
    Route("/cgi-bin/getcallbackip", ("GET",), get_callback_ip),
    Route("/sandbox/tokens/expire", ("POST",), expire_tokens),
)
