"""Everything the sandbox remembers, in memory: apps, clock, what it received, faults, and each feature's state.

The server is threaded, so every read-modify-write of feature state happens under
`Sandbox.lock`. The received log and the fault queue guard themselves.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, TypeVar

from werkzeug.wrappers import Request

from wechat.sandbox.errors import BadControlInput, WeChatErrcode
from wechat.sandbox.faults import FaultQueue

AppKind = Literal["official_account", "mini_program"]
APP_KINDS: tuple[AppKind, ...] = ("official_account", "mini_program")
Part = TypeVar("Part")

# What a logged request keeps of its body: enough to assert on, bounded for uploads.
RECEIVED_BODY_LIMIT = 10 * 1024
# A sandbox left running for days must not grow without bound; tests never get near this.
RECEIVED_LOG_LIMIT = 10_000


@dataclass(frozen=True)
class SandboxApp:
    appid: str
    secret: str
    kind: AppKind
    callback_url: str | None = None
    callback_token: str = ""
    encoding_aes_key: str = ""
    message_mode: str = "plain"

    def public(self) -> dict:
        return {"appid": self.appid, "kind": self.kind}


class ReceivedLog:
    """The WeChat requests the sandbox received, oldest first, for tests and demos to inspect."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: deque[dict] = deque(maxlen=RECEIVED_LOG_LIMIT)

    def record(self, request: Request, *, at: float) -> dict:
        """Log a request as it arrives, so one whose answer is delayed or dropped is still seen."""
        entry = {
            "method": request.method,
            "path": request.path,
            "query": request.args.to_dict(),
            "body": request.get_data()[:RECEIVED_BODY_LIMIT].decode("utf-8", errors="replace"),
            "at": at,
            "errcode": None,
        }
        with self._lock:
            self._requests.append(entry)
        return entry

    def answered(self, entry: dict, errcode: int | None) -> None:
        with self._lock:
            entry["errcode"] = errcode

    def requests(self, path: str | None = None) -> list[dict]:
        with self._lock:
            return [dict(entry) for entry in self._requests if path is None or entry["path"] == path]

    def clear(self) -> int:
        with self._lock:
            count = len(self._requests)
            self._requests.clear()
            return count


class Sandbox:
    """The state of one sandbox server.

    Feature modules (tokens, Mini Program login, and later media, mass send, pay) keep
    their state as "parts": a class with a no-argument constructor, created on first
    use by `part()` and dropped by `reset()`. Adding a feature needs no change here.
    """

    def __init__(self, apps: Iterable[SandboxApp]):
        self.lock = threading.RLock()
        self.apps: dict[str, SandboxApp] = {app.appid: app for app in apps}
        self.received = ReceivedLog()
        self.faults = FaultQueue()
        self.merchants: dict = {}
        self.clock_offset = 0.0
        self._parts: dict[type, object] = {}

    def now(self) -> float:
        """Sandbox time, unix seconds: real time plus the offset the control API advanced it by."""
        return time.time() + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        with self.lock:
            self.clock_offset += seconds

    def part(self, part_class: type[Part]) -> Part:
        """A feature's state; call under `lock`."""
        if part_class not in self._parts:
            self._parts[part_class] = part_class()
        return self._parts[part_class]  # type: ignore[return-value]

    def reset(self) -> None:
        """Forget everything but the registered apps."""
        with self.lock:
            self._parts.clear()
            self.clock_offset = 0.0
            self.received.clear()
            self.faults.clear()

    def register_app(self, app: SandboxApp) -> None:
        with self.lock:
            self.apps[app.appid] = app

    def registered_app(self, appid: str) -> SandboxApp:
        """The app a control request names, or a 400."""
        app = self.apps.get(appid)
        if app is None:
            raise BadControlInput(f"no app {appid!r} is registered; registered: {', '.join(self.apps) or 'none'}")
        return app

    def app_from_credentials(self, appid: str | None, secret: str | None) -> SandboxApp:
        """The app an appid+secret pair names, checked in WeChat's order and with its errcodes."""
        if not appid:
            raise WeChatErrcode(41002)
        if not secret:
            raise WeChatErrcode(41004)
        app = self.apps.get(appid)
        if app is None:
            raise WeChatErrcode(40013)
        if secret != app.secret:
            raise WeChatErrcode(40125)
        return app
