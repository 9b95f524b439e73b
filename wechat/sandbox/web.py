"""HTTP plumbing every sandbox module shares: routes, JSON answers, control-input parsing."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request, Response

from wechat.sandbox.errors import BadControlInput

if TYPE_CHECKING:
    from wechat.sandbox.state import Sandbox

Handler = Callable[["Sandbox", Request], Response]

CONTROL_PREFIX = "/sandbox/"


@dataclass(frozen=True)
class Route:
    """One endpoint. Paths under /sandbox/ are the control API; every other path is WeChat's."""

    path: str
    methods: tuple[str, ...]
    handler: Handler

    @property
    def is_control(self) -> bool:
        return is_control_path(self.path)

    @property
    def description(self) -> str:
        """The first paragraph of the handler's docstring, shown by GET /sandbox/."""
        doc = (self.handler.__doc__ or "").strip().split("\n\n")[0]
        return " ".join(doc.split())


def is_control_path(path: str) -> bool:
    return path == CONTROL_PREFIX.rstrip("/") or path.startswith(CONTROL_PREFIX)


def json_response(payload: Any, status: int = 200) -> Response:
    # ensure_ascii off: WeChat sends UTF-8 Chinese text as is, not \u escapes.
    return Response(
        json.dumps(payload, ensure_ascii=False), status=status, content_type="application/json; charset=utf-8"
    )


def error_response(status: int, message: str) -> Response:
    """The sandbox's own errors (bad control input, unknown path): WeChat's shape, the HTTP status as errcode."""
    return json_response({"errcode": status, "errmsg": message}, status=status)


class ControlInput:
    """A control request's JSON object, read field by field; anything off is a 400 saying what and why."""

    def __init__(self, request: Request, *, allowed: Iterable[str]):
        raw = request.get_data(as_text=True).strip()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError as error:
            raise BadControlInput(f"the body is not valid JSON: {error}") from None
        if not isinstance(body, dict):
            raise BadControlInput("the body must be a JSON object")
        unknown = sorted(set(body) - set(allowed))
        if unknown:
            raise BadControlInput(f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        self._body = body

    def text(self, name: str, *, required: bool = False, max_length: int = 128) -> str | None:
        value = self._present(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value or len(value) > max_length:
            raise BadControlInput(f"{name} must be a non-empty string of at most {max_length} characters")
        return value

    def number(self, name: str, *, required: bool = False, minimum: float, maximum: float) -> float | None:
        value = self._present(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BadControlInput(f"{name} must be a number")
        if not minimum <= value <= maximum:
            raise BadControlInput(f"{name} must be between {minimum} and {maximum}")
        return float(value)

    def integer(self, name: str, *, minimum: int, maximum: int) -> int | None:
        value = self._present(name, required=False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadControlInput(f"{name} must be an integer")
        if not minimum <= value <= maximum:
            raise BadControlInput(f"{name} must be between {minimum} and {maximum}")
        return value

    def boolean(self, name: str) -> bool:
        value = self._present(name, required=False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise BadControlInput(f"{name} must be true or false")
        return value

    def _present(self, name: str, required: bool) -> Any:
        value = self._body.get(name)
        if value is None and required:
            raise BadControlInput(f"{name} is required")
        return value
