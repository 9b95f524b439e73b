"""Access tokens: cgi-bin/token, cgi-bin/stable_token, and the check every token-authenticated endpoint runs.

The two endpoints keep separate tokens, as WeChat does: fetching one kind never
retires a token of the other kind.
"""

from __future__ import annotations

import json
import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Literal

from werkzeug.wrappers import Request, Response

from wechat.sandbox.errors import WeChatErrcode
from wechat.sandbox.state import Sandbox, SandboxApp
from wechat.sandbox.web import ControlInput, Route, json_response

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
    value: str
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


@dataclass
class TokenLedger:
    """Every token issued and not yet forgotten, and each app's current stable token."""

    tokens: dict[str, AccessToken] = field(default_factory=dict)
    current_stable: dict[str, AccessToken] = field(default_factory=dict)
    forced_refreshes: dict[str, list[float]] = field(default_factory=dict)  # appid -> times

    def issue(self, *, appid: str, endpoint: Literal["token", "stable_token"], now: float) -> AccessToken:
        forget_before = now - FORGET_AFTER_SECONDS
        self.tokens = {value: token for value, token in self.tokens.items() if token.dies_at() > forget_before}
        token = AccessToken(
            value=secrets.token_urlsafe(102), appid=appid, endpoint=endpoint, expires_at=now + TOKEN_LIFETIME_SECONDS
        )
        self.tokens[token.value] = token
        return token


def authenticated_app(sandbox: Sandbox, request: Request) -> SandboxApp:
    """The app whose `access_token` query parameter this request carries, or WeChat's errcode for a bad one.

    Every endpoint that takes an access token starts with this.
    """
    value = request.args.get("access_token", "")
    if not value:
        raise WeChatErrcode(41001)
    if not TOKEN_SHAPE.fullmatch(value):
        raise WeChatErrcode(40014)
    with sandbox.lock:
        token = sandbox.part(TokenLedger).tokens.get(value)
        if token is None:
            raise WeChatErrcode(40001)
        errcode = token.refusal(sandbox.now())
        if errcode:
            raise WeChatErrcode(errcode)
        return sandbox.apps[token.appid]


def _token_answer(token: AccessToken, now: float) -> Response:
    return json_response({"access_token": token.value, "expires_in": int(token.expires_at - now)})


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
        return _token_answer(ledger.issue(appid=app.appid, endpoint="token", now=now), now)


def fetch_stable_token(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/stable_token: POST {"grant_type": "client_credential", "appid", "secret", "force_refresh"}.

    force_refresh false returns the current stable token while it has 5 minutes or
    more to live, else a new one (the old one lives out its time). force_refresh
    true retires the current one at once and issues a new one, at most 20 times a
    day and 30 seconds apart (45009). 47001 for a body that is not a JSON object.
    """
    try:
        body = json.loads(request.get_data())
    except ValueError:
        raise WeChatErrcode(47001) from None
    if not isinstance(body, dict) or not isinstance(body.get("force_refresh", False), bool):
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
        elif current is not None and current.dies_at() - now >= OVERLAP_SECONDS:
            return _token_answer(current, now)
        token = ledger.issue(appid=app.appid, endpoint="stable_token", now=now)
        ledger.current_stable[app.appid] = token
        return _token_answer(token, now)


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
    Route("/cgi-bin/stable_token", ("POST",), fetch_stable_token),
    Route("/cgi-bin/getcallbackip", ("GET",), get_callback_ip),
    Route("/sandbox/tokens/expire", ("POST",), expire_tokens),
)
