"""Mini Program login: sns/jscode2session, and the control endpoints that stand in for wx.login() on a phone."""

from __future__ import annotations

import base64
import secrets
import string
from collections import deque
from dataclasses import dataclass, field

from werkzeug.wrappers import Request, Response

from wechat.sandbox.errors import BadControlInput, WeChatErrcode
from wechat.sandbox.state import Sandbox, SandboxApp
from wechat.sandbox.web import ControlInput, Route, json_response

CODE_LIFETIME_SECONDS = 300
LOGINS_PER_MINUTE_PER_USER = 100
CODE_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class LoginCode:
    appid: str
    openid: str
    unionid: str | None
    expires_at: float


@dataclass
class MiniProgramUsers:
    """Codes not yet used, blocked users, and each user's recent logins (for the per-minute limit)."""

    codes: dict[str, LoginCode] = field(default_factory=dict)
    blocked: set[str] = field(default_factory=set)
    recent_logins: dict[str, deque[float]] = field(default_factory=dict)


def new_openid() -> str:
    # The shape of WeChat's: "o" and 27 URL-safe characters.
    return "o" + secrets.token_urlsafe(21)[:27]


def code_to_session(sandbox: Sandbox, request: Request) -> Response:
    """WeChat sns/jscode2session: GET ?appid&secret&js_code&grant_type=authorization_code gives the user's identity.

    Answers {"openid", "session_key", "unionid" (only if the code was minted with
    one)}. A code works once, for its own app, for 5 minutes; otherwise 40029.
    40226 blocked user; 45011 more than 100 logins a minute for one user; 41008
    no js_code; appid/secret errors as cgi-bin/token. An access_token parameter
    (wechatpy sends one) is ignored.
    """
    app = sandbox.app_from_credentials(request.args.get("appid"), request.args.get("secret"))
    if request.args.get("grant_type") != "authorization_code":
        raise WeChatErrcode(40002)
    js_code = request.args.get("js_code")
    if not js_code:
        raise WeChatErrcode(41008)
    with sandbox.lock:
        users = sandbox.part(MiniProgramUsers)
        now = sandbox.now()
        code = users.codes.get(js_code)
        if code is None or code.appid != app.appid or now >= code.expires_at:
            raise WeChatErrcode(40029)
        if code.openid in users.blocked:
            raise WeChatErrcode(40226)
        logins = users.recent_logins.setdefault(code.openid, deque())
        while logins and logins[0] <= now - 60:
            logins.popleft()
        if len(logins) >= LOGINS_PER_MINUTE_PER_USER:
            raise WeChatErrcode(45011)
        logins.append(now)
        del users.codes[js_code]
    session = {"openid": code.openid, "session_key": base64.b64encode(secrets.token_bytes(16)).decode()}
    if code.unionid:
        session["unionid"] = code.unionid
    return json_response(session)


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
        users.codes = {value: code for value, code in users.codes.items() if code.expires_at > now}
        value = "0" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(31))
        code = LoginCode(
            appid=app.appid, openid=openid or new_openid(), unionid=unionid, expires_at=now + CODE_LIFETIME_SECONDS
        )
        users.codes[value] = code
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
    Route("/sns/jscode2session", ("GET",), code_to_session),
    Route("/sandbox/miniprogram/codes", ("POST",), mint_code),
    Route("/sandbox/miniprogram/blocked", ("POST",), block_user),
)
