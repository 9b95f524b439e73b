"""The WeChat sandbox: a local HTTP server that answers like api.weixin.qq.com, with a control API under /sandbox/.

Point a WeChat client's base URL at it and drive it with curl or
`wechat_sandbox.client.SandboxClient`; GET /sandbox/ lists every endpoint. Each
feature module (tokens, miniprogram, ...) declares its WeChat and control endpoints
in a ROUTES tuple; a new feature is a new module added to FEATURES.

Every request's path is normalised once, here, and that one form is what routing,
faults and the received log see. Requests to WeChat paths are logged (secrets
fingerprinted) and may suffer injected faults; whatever goes wrong on a WeChat path
is answered in the route's protocol (HTTP 200 with an errcode for api.weixin.qq.com),
never with a bare HTTP error. Control requests are neither logged nor faulted and
answer in their own shape.

No Django here: the server keeps its state in memory and can run anywhere.
"""

from __future__ import annotations

import json
import logging
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.serving import BaseWSGIServer
from werkzeug.wrappers import Request, Response

from wechat_sandbox import (
    control,
    merchants,
    mini_program_subscribe_messages,
    miniprogram,
    miniprogram_codes,
    miniprogram_shipping,
    official_account_followers,
    official_account_mass_send,
    official_account_publishing,
    official_account_push,
    official_account_statistics,
    outbox,
    pay_bills,
    pay_orders,
    pay_refunds,
    pay_v3_bills,
    pay_v3_control,
    pay_v3_orders,
    pay_v3_refunds,
    secapi_tls,
    tokens,
)
from wechat_sandbox.errors import ControlError, WeChatErrcode
from wechat_sandbox.faults import Fault
from wechat_sandbox.keep_alive import DEFAULT_IDLE_TIMEOUT_SECONDS, KeepAliveRequestHandler, KeepAliveWSGIServer
from wechat_sandbox.pay_signing import CLIENT_CERTIFICATE_CN_KEY
from wechat_sandbox.pay_v3_keys import merchant_v3_keys_ensure
from wechat_sandbox.pay_v3_requests import RECEIVED_AT_KEY, v3_answer_signed
from wechat_sandbox.protocols import PAY_V3, Protocol, error_response, json_response, new_rid, protocol_for_unknown_path
from wechat_sandbox.redaction import redact_log_line
from wechat_sandbox.routes import (
    DEFAULT_MAX_BODY_BYTES,
    Route,
    RouteTable,
    attach_json_body,
    attach_route,
    is_control_path,
    normalise_path,
)
from wechat_sandbox.state import Sandbox, SandboxApp
from wechat_sandbox.tls import CertificateAuthority, peer_common_name
from wechat_sandbox.wechat_apps import CallbackConfig

logger = logging.getLogger(__name__)

FEATURES = (
    control,
    secapi_tls,
    tokens,
    miniprogram,
    mini_program_subscribe_messages,
    miniprogram_shipping,
    miniprogram_codes,
    outbox,
    official_account_push,
    merchants,
    official_account_publishing,
    official_account_followers,
    official_account_mass_send,
    official_account_statistics,
    pay_orders,
    pay_refunds,
    pay_bills,
    pay_v3_orders,
    pay_v3_refunds,
    pay_v3_bills,
    pay_v3_control,
)
# WeChat documents no URL limit; past this a request target is "content size out of limit" (45002).
MAX_URL_BYTES = 8 * 1024
# A client that declares more body than it sends, or stalls, loses its connection after this.
DEFAULT_READ_TIMEOUT_SECONDS = 5.0
# How often serve_forever checks for shutdown when run in a thread: stopping waits this long at most.
THREAD_POLL_INTERVAL_SECONDS = 0.05


class BodyTooLarge(Exception):
    """The request body is over its route's limit."""


class SandboxServer:
    """The WSGI application: routes each request, logging and faulting the WeChat ones."""

    def __init__(self, sandbox: Sandbox):
        self.sandbox = sandbox
        self.routes = sandbox.routes

    def __call__(self, environ: dict, start_response):
        environ[RECEIVED_AT_KEY] = time.monotonic()  # before any injected delay (pay_v3_requests reads it)
        if environ.get("wsgi.url_scheme") == "https":
            # The handshake verified the client certificate against our CA (tls.py); secapi/ checks whose it is.
            # (The APIv3 port asks for none: getpeercert() is then empty.)
            peer = environ["werkzeug.socket"].getpeercert()
            environ[CLIENT_CERTIFICATE_CN_KEY] = peer_common_name(peer)
        request = Request(environ)
        path = normalise_path(request.path)
        if is_control_path(path):
            response = self.serve_control(request, path)
        else:
            response = self.serve_wechat(request, path)
        return response(environ, start_response)

    # --- WeChat paths ------------------------------------------------------------------

    def serve_wechat(self, request: Request, path: str) -> Response:
        now = self.sandbox.now()
        rid = new_rid(now)
        routes, arguments = self.routes.for_path(path)
        protocol = routes[0].protocol if routes else protocol_for_unknown_path(path)
        max_body_bytes = routes[0].max_body_bytes if routes else DEFAULT_MAX_BODY_BYTES
        try:
            body = _read_body(request, max_body_bytes)
        except BodyTooLarge:
            body = None
        entry = self.sandbox.received.record(
            method=request.method, path=path, query=request.args.to_dict(), body=body or b"", at=now
        )
        fault = self.sandbox.faults.take(path)
        if latency := self.sandbox.latency:
            time.sleep(latency)  # outside every lock: other requests go on meanwhile

        def answer() -> Response:
            return self.answer_wechat(request, routes, arguments, protocol, body, rid)

        response = answer() if fault is None else self.suffer(fault, protocol, rid, answer, request)
        self.sandbox.received.answered(entry, protocol.errcode_of(response))
        return response

    def answer_wechat(
        self,
        request: Request,
        routes: list[Route],
        arguments: dict[str, str],
        protocol: Protocol,
        body: bytes | None,
        rid: str,
    ) -> Response:
        """The answer to a WeChat request no fault intercepted; protocol errors follow 公众号 "全局返回码说明"."""
        try:
            if len(request.environ.get("RAW_URI") or request.full_path) > MAX_URL_BYTES:
                raise WeChatErrcode(45002)
            if not routes:
                raise WeChatErrcode(40066)
            route = next((route for route in routes if request.method in route.methods), None)
            if route is None:
                allowed = {method for route in routes for method in route.methods}
                raise WeChatErrcode(43002 if "GET" not in allowed else 43001)
            if body is None:
                raise WeChatErrcode(45002)
            if route.json_body:
                attach_json_body(request, _json_object(body))
            attach_route(request, route, arguments)
            return route.handler(self.sandbox, request)
        except WeChatErrcode as error:
            return protocol.error_response(error, rid=rid)
        except Exception:
            # A sandbox bug: the details go to its log; the client sees WeChat's "system error".
            logger.exception("the WeChat sandbox failed on %s %s", request.method, request.path)
            return protocol.error_response(WeChatErrcode(-1), rid=rid)

    def suffer(
        self, fault: Fault, protocol: Protocol, rid: str, answer: Callable[[], Response], request: Request
    ) -> Response:
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
            refusal = protocol.error_response(WeChatErrcode(fault.errcode, fault.errmsg), rid=rid)
            # WeChat Pay signs its APIv3 errors as it signs every answer to a merchant it knows.
            return v3_answer_signed(self.sandbox, request, refusal) if protocol is PAY_V3 else refusal
        return answer()

    # --- the control API ---------------------------------------------------------------

    def serve_control(self, request: Request, path: str) -> Response:
        routes, arguments = self.routes.for_path(path)
        if not routes:
            return error_response(404, f"no endpoint {request.method} {request.path} here; GET /sandbox/ lists them")
        route = next((route for route in routes if request.method in route.methods), None)
        if route is None:
            allowed = ", ".join(sorted({method for route in routes for method in route.methods}))
            return error_response(405, f"{path} takes {allowed}, not {request.method}")
        try:
            _read_body(request, route.max_body_bytes)
        except BodyTooLarge:
            return error_response(413, f"the body is over {route.max_body_bytes} bytes")
        attach_route(request, route, arguments)
        try:
            return route.handler(self.sandbox, request)
        except ControlError as error:
            return error_response(error.status, str(error))
        except Exception:
            logger.exception("the WeChat sandbox failed on %s %s", request.method, request.path)
            return error_response(500, "the WeChat sandbox failed on this request; its log has the details")


def describe(sandbox: Sandbox, request: Request) -> Response:
    """GET: this description: registered apps (never their secrets), the clock, every endpoint."""

    def listing(control_routes: bool) -> list[dict]:
        endpoints = []
        for route in sandbox.routes.routes:
            if route.is_control != control_routes:
                continue
            endpoint = {"methods": list(route.methods), "path": route.path, "description": route.description}
            if not control_routes:
                endpoint["protocol"] = route.protocol.name
                endpoint["app_kinds"] = list(route.app_kinds) if route.app_kinds else None
            endpoints.append(endpoint)
        return endpoints

    return json_response(
        {
            "name": "WeChat sandbox",
            "apps": [app.public() for app in sandbox.apps.values()],
            "clock": {"now": sandbox.now(), "offset": sandbox.clock_offset},
            "wechat_endpoints": listing(False),
            "control_endpoints": listing(True),
        }
    )


def _read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, cached on the request for handlers; a client that stalls or lies about its length is dropped."""
    request.max_content_length = max_bytes
    try:
        return request.get_data()
    except RequestEntityTooLarge:
        raise BodyTooLarge from None
    except (ClientDisconnected, OSError):  # OSError: the read timed out
        _drop_connection(request.environ)


def _json_object(body: bytes) -> dict:
    """A JSON route's body: 44002 when empty, 47001 when not a JSON object (全局返回码说明)."""
    if not body.strip():
        raise WeChatErrcode(44002)
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        raise WeChatErrcode(47001) from None
    if not isinstance(parsed, dict):
        raise WeChatErrcode(47001)
    return parsed


def _drop_connection(environ: dict) -> NoReturn:
    """Close the TCP connection without a byte of answer, as a crashed server or a cut link would.

    shutdown(), not close(): the server's own file objects keep the socket open, so
    only shutdown sends the FIN now. Raising a ConnectionError then makes Werkzeug's
    server treat the connection as gone and write nothing more.
    """
    try:
        environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already gone
    raise ConnectionAbortedError("connection dropped by the WeChat sandbox")


class SandboxRequestHandler(KeepAliveRequestHandler):
    """Werkzeug's handler, keeping connections alive, with a read timeout and a log that never shows a secret in clear.

    Every line goes through log(): the access log's request line and http.server's
    errors, which quote a malformed request line whole.
    """

    timeout = DEFAULT_READ_TIMEOUT_SECONDS

    def log(self, type: str, message: str, *args) -> None:
        super().log(type, "%s", redact_log_line(message % args if args else message))


def build_server(apps: Iterable[SandboxApp]) -> SandboxServer:
    feature_routes = [route for feature in FEATURES for route in feature.ROUTES]
    routes = RouteTable([Route("/sandbox/", ("GET",), describe), *feature_routes])
    sandbox = Sandbox(apps, routes=routes)
    sandbox.add_clock_listener(outbox.deliver_due)  # a clock jump delivers what fell due, as the test waits
    return SandboxServer(sandbox)


def _handler(read_timeout: float, idle_timeout: float) -> type[SandboxRequestHandler]:
    timeouts = {"timeout": read_timeout, "idle_timeout": idle_timeout}
    return type("SandboxRequestHandler", (SandboxRequestHandler,), timeouts)


def make_sandbox_server(
    *,
    apps: Iterable[SandboxApp],
    host: str,
    port: int,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
) -> BaseWSGIServer:
    """A threaded HTTP server for the sandbox, bound and ready for serve_forever(); port 0 picks a free one.

    `read_timeout`: seconds a connection may stall while the server reads its request.
    `idle_timeout`: seconds a kept-alive connection may wait for its next request (keep_alive.py).
    """
    return KeepAliveWSGIServer(host, port, build_server(apps), _handler(read_timeout, idle_timeout))


def make_secapi_server(
    app: SandboxServer,
    authority: CertificateAuthority,
    *,
    host: str,
    port: int,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
) -> BaseWSGIServer:
    """The same sandbox over TLS, asking every client for a certificate from `authority` (secapi/ needs one).

    A client without one fails the handshake and gets no answer, as at WeChat Pay.
    """
    server = KeepAliveWSGIServer(
        host, port, app, _handler(read_timeout, idle_timeout), ssl_context=authority.server_context()
    )
    app.sandbox.tls_authority = authority
    app.sandbox.secapi_url = server_url(server)
    return server


def make_v3_server(
    app: SandboxServer,
    authority: CertificateAuthority,
    *,
    host: str,
    port: int,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
) -> BaseWSGIServer:
    """The same sandbox over HTTPS without a client certificate: WeChat Pay APIv3 (/v3/), which signs instead."""
    server = KeepAliveWSGIServer(
        host,
        port,
        app,
        _handler(read_timeout, idle_timeout),
        ssl_context=authority.server_context(client_certificate=False),
    )
    app.sandbox.v3_url = server_url(server)
    return server


def server_url(server: BaseWSGIServer) -> str:
    host = f"[{server.host}]" if ":" in server.host else server.host
    scheme = "https" if getattr(server, "ssl_context", None) is not None else "http"
    return f"{scheme}://{host}:{server.port}/"


# Development values for the settings' Official Account's callback (server configuration in WeChat's
# console): the demo's account in our database carries the same, so the sandbox's pushes verify.
DEVELOPMENT_CALLBACK_TOKEN = "sandboxCallbackToken"
DEVELOPMENT_ENCODING_AES_KEY = "SandboxEncodingAESKeyForDevelopment00000000"


def sandbox_apps_from_settings(*, callback_base_url: str | None = None) -> list[SandboxApp]:
    """The Official Account and Mini Program our settings name, with their secrets.

    With `callback_base_url` (our web server, e.g. http://127.0.0.1:8000/), WeChat pushes the
    Official Account's events to its callback URL there, in safe mode, with the development
    token and AES key.
    """
    # Imported here so that only this helper (and the management command) needs Django.
    from django.conf import settings

    callback = None
    if callback_base_url:
        base = callback_base_url.rstrip("/")
        callback = CallbackConfig(
            url=f"{base}/wechat/oa/{settings.WECHAT_OFFICIAL_ACCOUNT_APPID}/",
            mode="safe",
            token=DEVELOPMENT_CALLBACK_TOKEN,
            encoding_aes_key=DEVELOPMENT_ENCODING_AES_KEY,
        )
    # The Mini Program's message push (消息推送), in plain mode with the settings' token, when it has one.
    mini_program_push = None
    if callback_base_url and settings.WECHAT_MINI_PROGRAM_PUSH_TOKEN:
        mini_program_push = CallbackConfig(
            url=f"{callback_base_url.rstrip('/')}/wechat/mp/{settings.WECHAT_MINI_PROGRAM_APPID}/",
            mode="plain",
            token=settings.WECHAT_MINI_PROGRAM_PUSH_TOKEN,
        )
    return [
        SandboxApp(
            appid=settings.WECHAT_OFFICIAL_ACCOUNT_APPID,
            secret=settings.WECHAT_OFFICIAL_ACCOUNT_SECRET,
            kind="official_account",
            callback=callback,
        ),
        SandboxApp(
            appid=settings.WECHAT_MINI_PROGRAM_APPID,
            secret=settings.WECHAT_MINI_PROGRAM_SECRET,
            kind="mini_program",
            callback=mini_program_push,
        ),
    ]


def sandbox_merchants_from_settings() -> list[merchants.SandboxMerchant]:
    """The WeChat Pay merchant our settings name, collecting for the Mini Program."""
    from django.conf import settings

    return [
        merchants.merchant_from_fields(
            mch_id=settings.WECHAT_PAY_MCH_ID,
            api_key=settings.WECHAT_PAY_API_KEY,
            appid=settings.WECHAT_MINI_PROGRAM_APPID,
        )
    ]


def register_merchants(sandbox: Sandbox, registered: Iterable[merchants.SandboxMerchant]) -> None:
    """Register merchants as the sandbox starts (the control API does it later: POST /sandbox/merchants).

    With TLS on, each gets its client certificate now, and its APIv3 keys (written beside it), so our web
    and worker find them as soon as the sandbox is up.
    """
    registered = list(registered)
    with sandbox.lock:
        sandbox.part(merchants.Merchants).by_id.update({merchant.mch_id: merchant for merchant in registered})
    for merchant in registered:
        if sandbox.tls_authority is not None:
            sandbox.tls_authority.merchant_certificate(merchant.mch_id)
        merchant_v3_keys_ensure(sandbox, merchant.mch_id)


@dataclass
class RunningSandbox:
    url: str  # with a trailing slash, ready to be a WeChat API base URL
    sandbox: Sandbox
    server: BaseWSGIServer
    thread: threading.Thread
    courier: outbox.OutboxCourier
    secapi_url: str  # https, for WECHAT_PAY_SECAPI_BASE_URL
    secapi_server: BaseWSGIServer
    secapi_thread: threading.Thread
    tls: CertificateAuthority  # ca_path for WECHAT_PAY_CA_BUNDLE; merchant_certificate(mch_id) for the cert paths
    v3_url: str  # https, for WECHAT_PAY_V3_BASE_URL
    v3_server: BaseWSGIServer
    v3_thread: threading.Thread
    _tls_temporary: tempfile.TemporaryDirectory | None = None

    def stop(self) -> None:
        self.courier.stop()
        for server, thread in (
            (self.server, self.thread),
            (self.secapi_server, self.secapi_thread),
            (self.v3_server, self.v3_thread),
        ):
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)
        if self._tls_temporary is not None:
            self._tls_temporary.cleanup()


def start_in_thread(
    *,
    apps: Iterable[SandboxApp],
    merchants: Iterable[merchants.SandboxMerchant] = (),
    host: str = "127.0.0.1",
    port: int = 0,
    secapi_port: int = 0,
    v3_port: int = 0,
    tls_dir: Path | None = None,
    read_timeout: float = DEFAULT_READ_TIMEOUT_SECONDS,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
) -> RunningSandbox:
    """Serve the sandbox, and deliver its callbacks, from background threads (tests, embedding) until stop().

    secapi/ is served over TLS on `secapi_port`, APIv3 over HTTPS on `v3_port`, with certificates and
    keys written to `tls_dir` (a temporary folder, removed by stop(), when None).
    """
    temporary = tempfile.TemporaryDirectory(prefix="wechat-sandbox-tls-") if tls_dir is None else None
    authority = CertificateAuthority(Path(temporary.name) if temporary else tls_dir)
    timeouts = {"read_timeout": read_timeout, "idle_timeout": idle_timeout}
    server = make_sandbox_server(apps=apps, host=host, port=port, **timeouts)
    secapi_server = make_secapi_server(server.app, authority, host=host, port=secapi_port, **timeouts)
    v3_server = make_v3_server(server.app, authority, host=host, port=v3_port, **timeouts)
    register_merchants(server.app.sandbox, merchants)
    threads = [
        threading.Thread(
            target=served.serve_forever,
            kwargs={"poll_interval": THREAD_POLL_INTERVAL_SECONDS},
            name=name,
            daemon=True,
        )
        for served, name in (
            (server, "wechat-sandbox"),
            (secapi_server, "wechat-sandbox-secapi"),
            (v3_server, "wechat-sandbox-v3"),
        )
    ]
    for thread in threads:
        thread.start()
    courier = outbox.OutboxCourier(server.app.sandbox).start()
    return RunningSandbox(
        url=server_url(server),
        sandbox=server.app.sandbox,
        server=server,
        thread=threads[0],
        courier=courier,
        secapi_url=server_url(secapi_server),
        secapi_server=secapi_server,
        secapi_thread=threads[1],
        tls=authority,
        v3_url=server_url(v3_server),
        v3_server=v3_server,
        v3_thread=threads[2],
        _tls_temporary=temporary,
    )
