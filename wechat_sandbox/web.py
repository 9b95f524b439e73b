"""HTTP plumbing every sandbox module shares: JSON answers and the control API's error shape.

Route and ControlInput live in their own modules (routes.py, control_input.py) and are
re-exported here for feature modules written against this one.
"""

from __future__ import annotations

from werkzeug.wrappers import Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.protocols import json_response
from wechat_sandbox.routes import Route, is_control_path

__all__ = ["ControlInput", "Route", "error_response", "is_control_path", "json_response"]


def error_response(status: int, message: str) -> Response:
    """The control API's own errors (bad input, unknown path): {"errcode": <the HTTP status>, "errmsg"}."""
    return json_response({"errcode": status, "errmsg": message}, status=status)
