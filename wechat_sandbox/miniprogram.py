"""Mini Program login: sns/jscode2session, wxa/checksession, and the control endpoints that stand in for a phone.

Login codes and session keys are kept only as digests: a code's SHA-256, and the
SHA-256 of the signature checksession expects (HMAC-SHA256 of "" under the session key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
from collections import deque
from dataclasses import asdict, dataclass, field

from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, WeChatErrcode
from wechat_sandbox.protocols import json_response
from wechat_sandbox.redaction import digest, matches
from wechat_sandbox.routes import Route, route_of
from wechat_sandbox.state import Sandbox, SandboxApp, snapshot_part
from wechat_sandbox.tokens import authenticated_app

CODE_LIFETIME_SECONDS = 300
LOGINS_PER_MINUTE_PER_USER = 100
CODE_ALPHABET = string.ascii_letters + string.digits
MINI_PROGRAMS_ONLY = ("mini_program",)


@dataclass(frozen=True)
class LoginCode:
    appid: str
    openid: str
    unionid: str | None
    expires_at: float


@snapshot_part("miniprogram")
@dataclass
class MiniProgramUsers:
    """Codes not yet used and used ones until they expire (by digest), blocked users, recent logins, sessions."""

    codes: dict[str, LoginCode] = field(default_factory=dict)
    used_codes: dict[str, LoginCode] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    recent_logins: dict[str, deque[float]] = field(default_factory=dict)
    # (appid, openid) -> SHA-256 of the checksession signature of the user's latest session key
    sessions: dict[tuple[str, str], str] = field(default_factory=dict)

    def drop_expired_codes(self, now: float) -> None:
        self.codes = {key: code for key, code in self.codes.items() if code.expires_at > now}
        self.used_codes = {key: code for key, code in self.used_codes.items() if code.expires_at > now}

    def forget_app(self, appid: str) -> None:
        self.codes = {key: code for key, code in self.codes.items() if code.appid != appid}
        self.used_codes = {key: code for key, code in self.used_codes.items() if code.appid != appid}
        self.sessions = {key: value for key, value in self.sessions.items() if key[0] != appid}

    def to_snapshot(self) -> dict:
        return {
            "codes": {key: asdict(code) for key, code in self.codes.items()},
            "used_codes": {key: asdict(code) for key, code in self.used_codes.items()},
            "blocked": sorted(self.blocked),
            "recent_logins": {openid: list(times) for openid, times in self.recent_logins.items()},
            "sessions": [
                {"appid": appid, "openid": openid, "signature_sha256": value}
                for (appid, openid), value in self.sessions.items()
            ],
        }

    @classmethod
    def from_snapshot(cls, data: dict) -> MiniProgramUsers:
        def code(entry: dict) -> LoginCode:
            unionid = entry["unionid"]
            return LoginCode(
                appid=str(entry["appid"]),
                openid=str(entry["openid"]),
                unionid=None if unionid is None else str(unionid),
                expires_at=float(entry["expires_at"]),
            )

        return cls(
            codes={str(key): code(entry) for key, entry in data["codes"].items()},
            used_codes={str(key): code(entry) for key, entry in data["used_codes"].items()},
            blocked={str(openid) for openid in data["blocked"]},
            recent_logins={
                str(openid): deque(float(at) for at in times) for openid, times in data["recent_logins"].items()
            },
            sessions={
                (str(entry["appid"]), str(entry["openid"])): str(entry["signature_sha256"])
                for entry in data["sessions"]
            },
        )


def new_openid() -> str:
    # The shape of WeChat's: "o" and 27 URL-safe characters.
    return "o" + secrets.token_urlsafe(21)[:27]


def session_signature(session_key: str) -> str:
    """What wxa/checksession expects for a session key: hex HMAC-SHA256 of an empty string under it."""
    return hmac.new(session_key.encode(), b"", hashlib.sha256).hexdigest()


def code_to_session(sandbox: Sandbox, request: Request) -> Response:
    """WeChat sns/jscode2session: GET ?appid&secret&js_code&grant_type=authorization_code gives the user's identity.

    Answers {"openid", "session_key", "unionid" (only if the code was minted with
    one)}. A code works once, for its own Mini Program, for 5 minutes: used again
    while it would still be valid it gets 40163 "code been used"; unknown, expired
    or another app's, 40029. 40226 blocked user; 45011 more than 100 logins a minute
    for one user; 41008 no js_code; 40013 an appid that is not a Mini Program's;
    other appid/secret errors as cgi-bin/token. An access_token parameter is ignored.
    """
    app = sandbox.app_from_credentials(
        request.args.get("appid"), request.args.get("secret"), kinds=route_of(request).app_kinds
    )
    if request.args.get("grant_type") != "authorization_code":
        raise WeChatErrcode(40002)
    js_code = request.args.get("js_code")
    if not js_code:
        raise WeChatErrcode(41008)
    key = digest(js_code)
    with sandbox.lock:
        users = sandbox.part(MiniProgramUsers)
        now = sandbox.now()
        users.drop_expired_codes(now)
        code = users.codes.get(key)
        if code is None or code.appid != app.appid:
            used = users.used_codes.get(key)
            raise WeChatErrcode(40163 if used is not None and used.appid == app.appid else 40029)
        if code.openid in users.blocked:
            raise WeChatErrcode(40226)
        logins = users.recent_logins.setdefault(code.openid, deque())
        while logins and logins[0] <= now - 60:
            logins.popleft()
        if len(logins) >= LOGINS_PER_MINUTE_PER_USER:
            raise WeChatErrcode(45011)
        logins.append(now)
        users.used_codes[key] = users.codes.pop(key)
        session_key = base64.b64encode(secrets.token_bytes(16)).decode()
        users.sessions[(app.appid, code.openid)] = digest(session_signature(session_key))
    session = {"openid": code.openid, "session_key": session_key}
    if code.unionid:
        session["unionid"] = code.unionid
    return json_response(session)


def check_session(sandbox: Sandbox, request: Request) -> Response:
    """WeChat wxa/checksession: GET ?access_token&openid&signature&sig_method=hmac_sha256 checks a session key.

    signature is the hex HMAC-SHA256 of an empty string keyed with the user's
    session_key; only the latest login's key is valid. {"errcode": 0, "errmsg": "ok"},
    87009 for a wrong signature or sig_method, 41009 no openid. Mini Programs only (48001).
    """
    app = authenticated_app(sandbox, request)
    openid = request.args.get("openid")
    if not openid:
        raise WeChatErrcode(41009)
    signature = request.args.get("signature", "")
    with sandbox.lock:
        expected = sandbox.part(MiniProgramUsers).sessions.get((app.appid, openid))
    if request.args.get("sig_method") != "hmac_sha256" or expected is None or not matches(signature, expected):
        raise WeChatErrcode(87009)
    return json_response({"errcode": 0, "errmsg": "ok"})


def mint_code(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid"?, "openid"?, "unionid"?} gives a login code, as wx.login() would on a phone (201).

    appid defaults to the one registered Mini Program; openid is made up when absent.
    The code is valid for 5 minutes and works once.
    """
    body = ControlInput(request, allowed={"appid", "openid", "unionid"})
    appid, openid, unionid = body.text("appid"), body.text("openid"), body.text("unionid")
    with sandbox.lock:
        app = sandbox.registered_app(appid) if appid else _the_mini_program(sandbox)
        if app.kind != "mini_program":
            raise BadControlInput(f"{app.appid} is an {app.kind}; login codes are for Mini Programs")
        users = sandbox.part(MiniProgramUsers)
        now = sandbox.now()
        users.drop_expired_codes(now)
        value = "0" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(31))
        code = LoginCode(
            appid=app.appid, openid=openid or new_openid(), unionid=unionid, expires_at=now + CODE_LIFETIME_SECONDS
        )
        users.codes[digest(value)] = code
    return json_response({"code": value, "openid": code.openid, "unionid": code.unionid, "appid": code.appid}, 201)


def _the_mini_program(sandbox: Sandbox) -> SandboxApp:
    mini_programs = [app for app in sandbox.apps.values() if app.kind == "mini_program"]
    if len(mini_programs) != 1:
        raise BadControlInput(f"{len(mini_programs)} Mini Programs are registered: say which with appid")
    return mini_programs[0]


def block_user(sandbox: Sandbox, request: Request) -> Response:
    """POST {"openid"} marks the user high-risk; their logins get 40226 until reset (201)."""
    openid = ControlInput(request, allowed={"openid"}).text("openid", required=True)
    with sandbox.lock:
        sandbox.part(MiniProgramUsers).blocked.add(openid)
    return json_response({"openid": openid, "blocked": True}, 201)


ROUTES = (
    Route("/sns/jscode2session", ("GET",), code_to_session, app_kinds=MINI_PROGRAMS_ONLY),
    Route("/wxa/checksession", ("GET",), check_session, app_kinds=MINI_PROGRAMS_ONLY),
    Route("/sandbox/miniprogram/codes", ("POST",), mint_code),
    Route("/sandbox/miniprogram/blocked", ("POST",), block_user),
)
