"""Routes: what each endpoint is, which protocol it speaks and who may call it; and the one path normalisation."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from wechat_sandbox.protocols import JSON, Protocol, protocol_for_unknown_path

# A handler takes the Sandbox (state.py) and the request. The Sandbox holds a RouteTable, so naming
# its type here, even for the type checker alone, would make routes.py and state.py import each other.
Handler = Callable[[Any, Request], Response]

CONTROL_PREFIX = "/sandbox/"
# The largest body a WeChat JSON endpoint takes unless its route says otherwise; uploads
# (media, up to 10 MB) declare their own.
DEFAULT_MAX_BODY_BYTES = 2 * 1024 * 1024
_ROUTE_KEY = "wechat_sandbox.route"
_JSON_BODY_KEY = "wechat_sandbox.json_body"


@dataclass(frozen=True)
class Route:
    """One endpoint. Paths under /sandbox/ are the control API; every other path is WeChat's.

    `path` may hold <name> segments (the control API's /sandbox/apps/<appid>), read
    with `path_argument()`. `app_kinds` names the kinds of app whose token (or
    appid) may call a WeChat route, None for any: a token of another kind gets
    48001 "api unauthorized" (公众号 "全局返回码说明"). `protocol` is how its
    errors are answered; a body over `max_body_bytes` gets 45002. `json_body`: the
    body must be a JSON object (44002 when empty, 47001 otherwise), read by the
    handler with `json_body_of()`.
    """

    path: str
    methods: tuple[str, ...]
    handler: Handler
    protocol: Protocol = JSON
    app_kinds: tuple[str, ...] | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    json_body: bool = False

    @property
    def is_control(self) -> bool:
        return is_control_path(self.path)

    @property
    def description(self) -> str:
        """The first paragraph of the handler's docstring, shown by GET /sandbox/."""
        doc = (self.handler.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(doc.split())

    def pattern(self) -> re.Pattern[str]:
        parts = re.split(r"<(\w+)>", normalise_path(self.path))
        regex = "".join(re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)" for index, part in enumerate(parts))
        return re.compile(regex)


def is_control_path(path: str) -> bool:
    return path == CONTROL_PREFIX.rstrip("/") or path.startswith(CONTROL_PREFIX)


def normalise_path(path: str) -> str:
    """The one form of a path that routing, faults and the received log all use.

    Repeated and trailing slashes are dropped, so "/cgi-bin/token/" is "/cgi-bin/token".
    """
    return "/" + "/".join(segment for segment in path.split("/") if segment)


class RouteTable:
    """Every route, found by normalised path."""

    def __init__(self, routes: Iterable[Route] = ()):
        self.routes = tuple(routes)
        self._patterns = [(route.pattern(), route) for route in self.routes]

    def for_path(self, path: str) -> tuple[list[Route], dict[str, str]]:
        """The routes at `path` (one per method set) and the <name> arguments it gives them."""
        found: list[Route] = []
        arguments: dict[str, str] = {}
        for pattern, route in self._patterns:
            match = pattern.fullmatch(path)
            if match:
                found.append(route)
                arguments = match.groupdict()
        return found, arguments

    def protocol_for(self, path: str) -> Protocol:
        routes, _ = self.for_path(normalise_path(path))
        return routes[0].protocol if routes else protocol_for_unknown_path(path)


def attach_route(request: Request, route: Route, arguments: dict[str, str]) -> None:
    request.environ[_ROUTE_KEY] = (route, arguments)


def route_of(request: Request) -> Route:
    """The route serving this request (set by the server before the handler runs)."""
    return request.environ[_ROUTE_KEY][0]


def path_argument(request: Request, name: str) -> str:
    """A <name> segment of the route's path, e.g. the appid in /sandbox/apps/<appid>."""
    return request.environ[_ROUTE_KEY][1][name]


def attach_json_body(request: Request, body: dict) -> None:
    request.environ[_JSON_BODY_KEY] = body


def json_body_of(request: Request) -> dict:
    """The JSON object a `json_body` route's request carried (checked by the server)."""
    return request.environ[_JSON_BODY_KEY]
