"""The control API's general endpoints: reset, apps, faults, the received log, the clock, state snapshots.

Feature modules add their own control endpoints (login codes, token expiry, ...) next to
the WeChat endpoints they drive.
"""

from __future__ import annotations

import json

from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, ControlNotFound
from wechat_sandbox.faults import FAULT_FIELDS
from wechat_sandbox.protocols import json_response
from wechat_sandbox.routes import Route, normalise_path, path_argument
from wechat_sandbox.state import Sandbox
from wechat_sandbox.wechat_apps import APP_KINDS, CALLBACK_FIELDS, CallbackConfig, SandboxApp

# Far enough for any expiry the sandbox models (a day's quota, a month's mass sends).
MAX_CLOCK_ADVANCE_SECONDS = 366 * 86400
# More than any network between a server and WeChat; a longer pause is a fault's `delay`.
MAX_LATENCY_SECONDS = 10


def _public_apps(sandbox: Sandbox) -> list[dict]:
    return [app.public() for app in sandbox.apps.values()]


def reset(sandbox: Sandbox, request: Request) -> Response:
    """POST: forget tokens, codes, blocked users, faults, the received log and the clock offset; keep the apps."""
    sandbox.reset()
    return json_response({"apps": _public_apps(sandbox)})


def register_app(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid", "secret", "kind", "account_type"?, "callback"?} registers an app, or replaces it (201).

    kind is "official_account" or "mini_program". account_type, for an Official
    Account only: "subscription" (the default; 1 mass send a Beijing day) or
    "service" (4 a Beijing calendar month). callback, where WeChat pushes the
    app's messages and events: {"url", "token", "mode": "plain" | "compatible" |
    "safe", "encoding_aes_key" (43 letters and digits; required unless plain)}.
    """
    body = ControlInput(request, allowed={"appid", "secret", "kind", "account_type", "callback"})
    appid, secret, kind = (body.text(name, required=True) for name in ("appid", "secret", "kind"))
    if kind not in APP_KINDS:
        raise BadControlInput(f"kind must be one of {', '.join(APP_KINDS)}")
    callback_input = body.nested("callback", allowed=CALLBACK_FIELDS)
    callback = CallbackConfig.from_control_input(callback_input) if callback_input else None
    account_type = body.text("account_type")
    app = SandboxApp(appid=appid, secret=secret, kind=kind, callback=callback, account_type=account_type)  # type: ignore[arg-type]
    sandbox.register_app(app)
    return json_response(app.public(), 201)


def list_apps(sandbox: Sandbox, request: Request) -> Response:
    """GET: the registered apps, with their callback setup but never a secret, token or AES key."""
    return json_response({"apps": _public_apps(sandbox)})


def remove_app(sandbox: Sandbox, request: Request) -> Response:
    """DELETE: forget the app and its tokens, codes and sessions; WeChat then answers for it as for an unknown appid."""
    appid = path_argument(request, "appid")
    if not sandbox.remove_app(appid):
        raise ControlNotFound(f"no app {appid!r} is registered")
    return json_response({"appid": appid, "deleted": True})


def add_fault(sandbox: Sandbox, request: Request) -> Response:
    """POST {"path", "errcode"?, "errmsg"?, "delay"?, "drop"?, "http_status"?, "times": 1} injects a fault (201).

    The next `times` requests to `path` suffer it, faults taken first-added first.
    `delay` seconds pass before the answer (alone, or with one of the others);
    `errcode` answers WeChat's error in the path's protocol (an integer errcode, or
    a WeChat Pay err_code such as "SYSTEMERROR"; WeChat's errmsg unless given);
    `http_status` answers that status; `drop` closes the connection with no answer.
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

    Each is {"method", "path" (normalised: no trailing slash), "query", "body" (text,
    first 10 KB), "at" (sandbox unix time), "errcode" (of the answer; null for
    success, HTTP faults and drops)}. Secrets, codes and tokens in the query and
    body show as "sha256:" and 8 hex digits of their SHA-256.
    """
    path = request.args.get("path")
    requests = sandbox.received.requests(normalise_path(path) if path else None)
    return json_response({"count": len(requests), "requests": requests})


def clear_received(sandbox: Sandbox, request: Request) -> Response:
    """DELETE: empty the received log."""
    return json_response({"deleted": sandbox.received.clear()})


def show_latency(sandbox: Sandbox, request: Request) -> Response:
    """GET: the seconds every WeChat request waits before it is answered."""
    return json_response({"seconds": sandbox.latency})


def set_latency(sandbox: Sandbox, request: Request) -> Response:
    """PUT {"seconds"}: every WeChat request (not the control API) waits this long, 0–10 s, before its answer.

    The time a request to WeChat takes over the internet, for benches and timing tests; faults
    (their own `delay`) add to it. Reset sets it back to 0.
    """
    seconds = ControlInput(request, allowed={"seconds"}).number(
        "seconds", required=True, minimum=0, maximum=MAX_LATENCY_SECONDS
    )
    sandbox.latency = seconds
    return json_response({"seconds": sandbox.latency})


def clear_latency(sandbox: Sandbox, request: Request) -> Response:
    """DELETE: WeChat requests are answered at once again."""
    sandbox.latency = 0.0
    return json_response({"seconds": 0.0})


def show_clock(sandbox: Sandbox, request: Request) -> Response:
    """GET: sandbox time (unix seconds) and its offset from real time."""
    return json_response({"now": sandbox.now(), "offset": sandbox.clock_offset})


def advance_clock(sandbox: Sandbox, request: Request) -> Response:
    """POST {"advance": seconds} moves sandbox time forward, or back (negative); every expiry and rate window follows.

    Back never goes behind real time: the offset stops at 0, as a reset leaves it.
    """
    seconds = ControlInput(request, allowed={"advance"}).number(
        "advance", required=True, minimum=-MAX_CLOCK_ADVANCE_SECONDS, maximum=MAX_CLOCK_ADVANCE_SECONDS
    )
    sandbox.advance_clock(seconds)
    return show_clock(sandbox, request)


def reset_clock(sandbox: Sandbox, request: Request) -> Response:
    """DELETE: sandbox time is real time again (offset 0), keeping everything else."""
    sandbox.reset_clock()
    return show_clock(sandbox, request)


def get_state(sandbox: Sandbox, request: Request) -> Response:
    """GET ?received=true: the whole state as JSON (apps, clock, every feature, faults), secrets only as digests.

    PUT it back to restore. With received=true it carries the received log too.
    """
    include_received = request.args.get("received", "").lower() in ("1", "true", "yes")
    return json_response(sandbox.snapshot(include_received=include_received))


def put_state(sandbox: Sandbox, request: Request) -> Response:
    """PUT <a GET /sandbox/state answer>: restore that state (the received log only if it has one).

    Callback tokens and AES keys are not in a snapshot: register the app again to set them.
    """
    try:
        snapshot = json.loads(request.get_data())
    except (ValueError, RecursionError) as error:
        raise BadControlInput(f"the body is not valid JSON: {error}") from None
    if not isinstance(snapshot, dict):
        raise BadControlInput("the body must be a JSON object from GET /sandbox/state")
    sandbox.restore(snapshot)
    return json_response({"restored": True, "apps": _public_apps(sandbox)})


ROUTES = (
    Route("/sandbox/reset", ("POST",), reset),
    Route("/sandbox/apps", ("POST",), register_app),
    Route("/sandbox/apps", ("GET",), list_apps),
    Route("/sandbox/apps/<appid>", ("DELETE",), remove_app),
    Route("/sandbox/faults", ("POST",), add_fault),
    Route("/sandbox/faults", ("GET",), list_faults),
    Route("/sandbox/faults", ("DELETE",), clear_faults),
    Route("/sandbox/received", ("GET",), list_received),
    Route("/sandbox/received", ("DELETE",), clear_received),
    Route("/sandbox/latency", ("GET",), show_latency),
    Route("/sandbox/latency", ("PUT",), set_latency),
    Route("/sandbox/latency", ("DELETE",), clear_latency),
    Route("/sandbox/clock", ("GET",), show_clock),
    Route("/sandbox/clock", ("POST",), advance_clock),
    Route("/sandbox/clock", ("DELETE",), reset_clock),
    Route("/sandbox/state", ("GET",), get_state),
    Route("/sandbox/state", ("PUT",), put_state, max_body_bytes=64 * 1024 * 1024),
)
