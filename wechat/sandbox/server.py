"""The WeChat sandbox: a local HTTP server that answers like api.weixin.qq.com, with a control API under /sandbox/.

Point a WeChat client's base URL at it (wechatpy needs no other change) and
drive it with curl or `wechat.sandbox.client.SandboxClient`; GET /sandbox/ lists
every endpoint. Each feature module (tokens, miniprogram, ...) declares its
WeChat and control endpoints in a ROUTES tuple; a new feature is a new module
added to FEATURES. Requests to WeChat paths are logged and may suffer injected
faults; control requests are neither.

No Django here: the server keeps its state in memory and can run anywhere.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from wechat.sandbox import control, merchants, miniprogram, official_account_push, outbox, tokens
from wechat.sandbox.errors import BadControlInput, WeChatErrcode
from wechat.sandbox.faults import Fault
from wechat.sandbox.state import Sandbox, SandboxApp
from wechat.sandbox.web import Route, error_response, is_control_path, json_response

logger = logging.getLogger(__name__)

FEATURES = (control, tokens, miniprogram, outbox, official_account_push, merchants)


class SandboxRequest(Request):
    # Room for media uploads (WeChat takes up to 10 MB); beyond this a client gets 413.
    max_content_length = 32 * 1024 * 1024


class SandboxServer:
    """The WSGI application: routes each request, logging and faulting the WeChat ones."""

    def __init__(self, sandbox: Sandbox, routes: Sequence[Route]):
        self.sandbox = sandbox
        self.routes = (Route("/sandbox/", ("GET",), self.describe), *routes)
        # strict_slashes off so /sandbox and /sandbox/ both answer rather than redirect.
        self.url_map = Map(
            [Rule(route.path, methods=route.methods, endpoint=route) for route in self.routes],
            strict_slashes=False,
            merge_slashes=False,
        )

    def __call__(self, environ: dict, start_response):
        request = SandboxRequest(environ)
        try:
            if is_control_path(request.path):
                response = self.dispatch(request)
            else:
                response = self.serve_wechat(request)
        except HTTPException as error:  # e.g. a body over max_content_length
            response = error_response(error.code or 400, error.description or error.name)
        return response(environ, start_response)

    def serve_wechat(self, request: Request) -> Response:
        entry = self.sandbox.received.record(request, at=self.sandbox.now())
        fault = self.sandbox.faults.take(request.path)
        if fault is None:
            response = self.dispatch(request)
        else:
            response = self.suffer(fault, request)
        self.sandbox.received.answered(entry, _errcode_of(response))
        return response

    def suffer(self, fault: Fault, request: Request) -> Response:
        """Delay, then drop, fail with an HTTP status or an errcode, or (a pure delay) answer normally."""
        if fault.delay:
            time.sleep(fault.delay)  # outside every lock: other requests go on meanwhile
        if fault.drop:
            _drop_connection(request.environ)
        if fault.http_status:
            return Response(
                f"{fault.http_status} {HTTP_STATUS_CODES.get(fault.http_status, 'Error')}"
                " (injected by the WeChat sandbox)\n",
                status=fault.http_status,
                content_type="text/plain; charset=utf-8",
            )
        if fault.errcode is not None:
            return _errcode_response(WeChatErrcode(fault.errcode, fault.errmsg))
        return self.dispatch(request)

    def dispatch(self, request: Request) -> Response:
        try:
            route, arguments = self.url_map.bind_to_environ(request.environ).match()
            return route.handler(self.sandbox, request, **arguments)
        except WeChatErrcode as error:
            return _errcode_response(error)
        except BadControlInput as error:
            return error_response(400, str(error))
        except NotFound:
            return error_response(404, f"no endpoint {request.method} {request.path} here; GET /sandbox/ lists them")
        except MethodNotAllowed as error:
            allowed = ", ".join(sorted(set(error.valid_methods or []) - {"HEAD", "OPTIONS"}))
            return error_response(405, f"{request.path} takes {allowed}, not {request.method}")
        except Exception:
            # A sandbox bug: the details go to its log, never to the client.
            logger.exception("the WeChat sandbox failed on %s %s", request.method, request.path)
            return error_response(500, "the WeChat sandbox failed on this request; its log has the details")

    def describe(self, sandbox: Sandbox, request: Request) -> Response:
        """GET: this description: registered apps (never their secrets), the clock, every endpoint."""

        def listing(control_routes: bool) -> list[dict]:
            return [
                {"methods": list(route.methods), "path": route.path, "description": route.description}
                for route in self.routes
                if route.is_control == control_routes
            ]

        return json_response(
            {
                "name": "WeChat sandbox",
                "apps": [app.public() for app in sandbox.apps.values()],
                "clock": {"now": sandbox.now(), "offset": sandbox.clock_offset},
                "wechat_endpoints": listing(False),
                "control_endpoints": listing(True),
            }
        )


def _errcode_response(error: WeChatErrcode) -> Response:
    return json_response({"errcode": error.errcode, "errmsg": error.errmsg})


def _errcode_of(response: Response) -> int | None:
    if response.mimetype != "application/json":
        return None
    body = json.loads(response.get_data())
    return body.get("errcode") if isinstance(body, dict) else None


def _drop_connection(environ: dict) -> NoReturn:
    """Close the TCP connection without a byte of answer, as a crashed server or a cut link would.

    shutdown(), not close(): the server's own file objects keep the socket open, so
    only shutdown sends the FIN now. Raising a ConnectionError then makes Werkzeug's
    server treat the connection as gone and write nothing more.
    """
    environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("connection dropped by a WeChat sandbox fault")


def build_server(apps: Iterable[SandboxApp]) -> SandboxServer:
    return SandboxServer(Sandbox(apps), [route for feature in FEATURES for route in feature.ROUTES])


def make_sandbox_server(*, apps: Iterable[SandboxApp], host: str, port: int) -> BaseWSGIServer:
    """A threaded HTTP server for the sandbox, bound and ready for serve_forever(); port 0 picks a free one."""
    return make_server(host, port, build_server(apps), threaded=True)


def server_url(server: BaseWSGIServer) -> str:
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"http://{host}:{server.port}/"


def sandbox_apps_from_settings() -> list[SandboxApp]:
    """The Official Account and Mini Program our settings name, with their secrets."""
    # Imported here so that only this helper (and the management command) needs Django.
    from django.conf import settings

    return [
        SandboxApp(
            appid=settings.WECHAT_OFFICIAL_ACCOUNT_APPID,
            secret=settings.WECHAT_OFFICIAL_ACCOUNT_SECRET,
            kind="official_account",
        ),
        SandboxApp(
            appid=settings.WECHAT_MINI_PROGRAM_APPID,
            secret=settings.WECHAT_MINI_PROGRAM_SECRET,
            kind="mini_program",
        ),
    ]


@dataclass
class RunningSandbox:
    url: str  # with a trailing slash, ready to be a WeChat API base URL
    sandbox: Sandbox
    server: BaseWSGIServer
    thread: threading.Thread
    courier: outbox.OutboxCourier

    def stop(self) -> None:
        self.courier.stop()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def start_in_thread(*, apps: Iterable[SandboxApp], host: str = "127.0.0.1", port: int = 0) -> RunningSandbox:
    """Serve the sandbox from a background thread (tests, embedding) until stop()."""
    server = make_sandbox_server(apps=apps, host=host, port=port)
    thread = threading.Thread(target=server.serve_forever, name="wechat-sandbox", daemon=True)
    thread.start()
    courier = outbox.OutboxCourier(server.app.sandbox).start()
    return RunningSandbox(
        url=server_url(server), sandbox=server.app.sandbox, server=server, thread=thread, courier=courier
    )
