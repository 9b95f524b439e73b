"""The control API's general endpoints: reset, apps, faults, the received log, the clock.

Feature modules add their own control endpoints (login codes, token expiry, ...) next to
the WeChat endpoints they drive.
"""

from __future__ import annotations

from werkzeug.wrappers import Request, Response

from wechat.sandbox.errors import BadControlInput
from wechat.sandbox.faults import FAULT_FIELDS
from wechat.sandbox.outbox import deliver_due
from wechat.sandbox.state import APP_KINDS, Sandbox, SandboxApp
from wechat.sandbox.web import ControlInput, Route, json_response

# Far enough for any expiry the sandbox models (a day's quota, a month's mass sends).
MAX_CLOCK_ADVANCE_SECONDS = 366 * 86400


def reset(sandbox: Sandbox, request: Request) -> Response:
    """POST: forget tokens, codes, blocked users, faults, the received log and the clock offset; keep the apps."""
    sandbox.reset()
    return json_response({"apps": [app.public() for app in sandbox.apps.values()]})


def register_app(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid", "secret", "kind": "official_account" | "mini_program"} registers an app, or replaces it (201)."""
    body = ControlInput(request, allowed={"appid", "secret", "kind"})
    appid, secret, kind = (body.text(name, required=True) for name in ("appid", "secret", "kind"))
    if kind not in APP_KINDS:
        raise BadControlInput(f"kind must be one of {', '.join(APP_KINDS)}")
    app = SandboxApp(appid=appid, secret=secret, kind=kind)
    sandbox.register_app(app)
    return json_response(app.public(), 201)


def add_fault(sandbox: Sandbox, request: Request) -> Response:
    """POST {"path", "errcode"?, "errmsg"?, "delay"?, "drop"?, "http_status"?, "times": 1} injects a fault (201).

    The next `times` requests to `path` suffer it, faults taken first-added first.
    `delay` seconds pass before the answer (alone, or with one of the others);
    `errcode` answers WeChat's error (its own errmsg unless given); `http_status`
    answers that status; `drop` closes the connection with no answer at all.
    """
    fault = sandbox.faults.add(ControlInput(request, allowed=FAULT_FIELDS))
    return json_response(fault.as_dict(), 201)


def list_faults(sandbox: Sandbox, request: Request) -> Response:
    """GET: the faults still waiting, with how many requests each has left."""
    return json_response({"faults": sandbox.faults.pending()})


def clear_faults(sandbox: Sandbox, request: Request) -> Response:
    """DELETE: drop every waiting fault."""
    return json_response({"deleted": sandbox.faults.clear()})


def list_received(sandbox: Sandbox, request: Request) -> Response:
    """GET ?path=/cgi-bin/token: the WeChat requests received, oldest first, optionally for one path.

    Each is {"method", "path", "query", "body" (text, first 10 KB), "at" (sandbox
    unix time), "errcode" (of the answer; null for success, HTTP faults and drops)}.
    """
    requests = sandbox.received.requests(request.args.get("path") or None)
    return json_response({"count": len(requests), "requests": requests})


def clear_received(sandbox: Sandbox, request: Request) -> Response:
    """DELETE: empty the received log."""
    return json_response({"deleted": sandbox.received.clear()})


def show_clock(sandbox: Sandbox, request: Request) -> Response:
    """GET: sandbox time (unix seconds) and its offset from real time."""
    return json_response({"now": sandbox.now(), "offset": sandbox.clock_offset})


def advance_clock(sandbox: Sandbox, request: Request) -> Response:
    """POST {"advance": seconds} moves sandbox time forward; every expiry and rate window follows it."""
    seconds = ControlInput(request, allowed={"advance"}).number(
        "advance", required=True, minimum=0, maximum=MAX_CLOCK_ADVANCE_SECONDS
    )
    sandbox.advance_clock(seconds)
    deliver_due(sandbox)
    return show_clock(sandbox, request)


ROUTES = (
    Route("/sandbox/reset", ("POST",), reset),
    Route("/sandbox/apps", ("POST",), register_app),
    Route("/sandbox/faults", ("POST",), add_fault),
    Route("/sandbox/faults", ("GET",), list_faults),
    Route("/sandbox/faults", ("DELETE",), clear_faults),
    Route("/sandbox/received", ("GET",), list_received),
    Route("/sandbox/received", ("DELETE",), clear_received),
    Route("/sandbox/clock", ("GET",), show_clock),
    Route("/sandbox/clock", ("POST",), advance_clock),
)
