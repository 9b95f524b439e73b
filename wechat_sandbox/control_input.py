"""A control API request's JSON body, read field by field; anything off is a 400 saying what and why."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Request

from wechat_sandbox.errors import BadControlInput


class ControlInput:
    """A control request's JSON object (or `body`, a nested object already parsed)."""

    def __init__(self, request: Request | None = None, *, allowed: Iterable[str], body: Any = None, name: str = ""):
        if request is not None:
            raw = request.get_data(as_text=True).strip()
            try:
                body = json.loads(raw) if raw else {}
            except (ValueError, RecursionError) as error:
                raise BadControlInput(f"the body is not valid JSON: {error}") from None
        self._prefix = f"{name}." if name else ""
        if not isinstance(body, dict):
            raise BadControlInput(f"{name or 'the body'} must be a JSON object")
        unknown = sorted(set(body) - set(allowed))
        if unknown:
            raise BadControlInput(
                f"unknown field(s) {', '.join(self._prefix + field for field in unknown)}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        self._body = body

    def has(self, name: str) -> bool:
        return self._body.get(name) is not None

    def text(self, name: str, *, required: bool = False, max_length: int = 128) -> str | None:
        value = self._present(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value or len(value) > max_length:
            raise BadControlInput(f"{self._prefix}{name} must be a non-empty string of at most {max_length} characters")
        return value

    def number(self, name: str, *, required: bool = False, minimum: float, maximum: float) -> float | None:
        value = self._present(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise BadControlInput(f"{self._prefix}{name} must be a number")
        if not minimum <= value <= maximum:
            raise BadControlInput(f"{self._prefix}{name} must be between {minimum} and {maximum}")
        return float(value)

    def integer(self, name: str, *, minimum: int, maximum: int) -> int | None:
        value = self._present(name, required=False)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadControlInput(f"{self._prefix}{name} must be an integer")
        if not minimum <= value <= maximum:
            raise BadControlInput(f"{self._prefix}{name} must be between {minimum} and {maximum}")
        return value

    def boolean(self, name: str) -> bool:
        value = self._present(name, required=False)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise BadControlInput(f"{self._prefix}{name} must be true or false")
        return value

    def raw(self, name: str, *, required: bool = False) -> Any:
        """The value as sent, for fields whose type depends on context (a fault's errcode)."""
        return self._present(name, required)

    def nested(self, name: str, *, allowed: Iterable[str]) -> ControlInput | None:
        """A nested JSON object, read the same way; None when absent."""
        value = self._present(name, required=False)
        return None if value is None else ControlInput(allowed=allowed, body=value, name=self._prefix + name)

    def _present(self, name: str, required: bool) -> Any:
        value = self._body.get(name)
        if value is None and required:
            raise BadControlInput(f"{self._prefix}{name} is required")
        return value
