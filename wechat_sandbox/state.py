"""Everything the sandbox remembers, in memory: apps, clock, what it received, faults, and each feature's state.

The server is threaded, so the apps and every feature's state are read and written
only under `Sandbox.lock`. The received log and the fault queue guard themselves.
App secrets, login codes, access tokens and session keys are kept only as SHA-256
digests (see redaction.py). The few values kept in clear are those the sandbox must
use or hand out again (an app's callback token and AES key, the current stable
token); they are never shown and never in a snapshot.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable
from typing import Any, ClassVar, Protocol, TypeVar

from wechat_sandbox.errors import BadControlInput, NotSnapshottable, WeChatErrcode
from wechat_sandbox.faults import FaultQueue
from wechat_sandbox.redaction import redact_body, redact_query
from wechat_sandbox.routes import RouteTable
from wechat_sandbox.wechat_apps import APP_KINDS, AppKind, SandboxApp

__all__ = ["APP_KINDS", "AppKind", "ReceivedLog", "Sandbox", "SandboxApp", "SnapshotPart", "snapshot_part"]

Part = TypeVar("Part")
ClockListener = Callable[["Sandbox"], None]

# What a logged request keeps of its body: enough to assert on, bounded for uploads.
RECEIVED_BODY_LIMIT = 10 * 1024
# A sandbox left running for days must not grow without bound; tests never get near this.
RECEIVED_LOG_LIMIT = 10_000
SNAPSHOT_VERSION = 1


class SnapshotPart(Protocol):
    """What a feature's state implements to be saved by GET /sandbox/state and restored by PUT.

    to_snapshot() gives JSON-ready data with no secret in clear; from_snapshot()
    builds the part back from it (raising KeyError, TypeError or ValueError on bad
    data). A part may also define forget_app(appid), called when an app is removed.
    """

    snapshot_name: ClassVar[str]

    def to_snapshot(self) -> dict: ...

    @classmethod
    def from_snapshot(cls, data: dict) -> Any: ...


_SNAPSHOT_PARTS: dict[str, type] = {}


def snapshot_part(name: str) -> Callable[[type[Part]], type[Part]]:
    """Class decorator: register a feature's state class under `name` in state snapshots."""

    def register(part_class: type[Part]) -> type[Part]:
        if _SNAPSHOT_PARTS.get(name, part_class) is not part_class:
            raise ValueError(f"two sandbox parts are named {name!r}")
        part_class.snapshot_name = name  # type: ignore[attr-defined]
        _SNAPSHOT_PARTS[name] = part_class
        return part_class

    return register


class ReceivedLog:
    """The WeChat requests the sandbox received, oldest first, with secrets fingerprinted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: deque[dict] = deque(maxlen=RECEIVED_LOG_LIMIT)

    def record(self, *, method: str, path: str, query: dict[str, str], body: bytes, at: float) -> dict:
        """Log a request as it arrives, so one whose answer is delayed or dropped is still seen."""
        text = body.decode("utf-8", errors="replace")
        entry = {
            "method": method,
            "path": path,
            "query": redact_query(query),
            "body": redact_body(text)[:RECEIVED_BODY_LIMIT] if text else "",
            "at": at,
            "errcode": None,
        }
        with self._lock:
            self._requests.append(entry)
        return entry

    def answered(self, entry: dict, errcode: int | str | None) -> None:
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

    def replace(self, entries: Iterable[dict]) -> None:
        with self._lock:
            self._requests.clear()
            self._requests.extend(dict(entry) for entry in entries)


class Sandbox:
    """The state of one sandbox server.

    Feature modules (tokens, Mini Program login, and later the outbox, merchants, mass
    send) keep their state as "parts": a class with a no-argument constructor, created
    on first use by `part()` and dropped by `reset()`, registered with @snapshot_part
    to be saved and restored with the rest. Adding a feature needs no change here.

    Clock listeners (`add_clock_listener`) are called after `advance_clock`, outside
    the lock, with the sandbox: the hook for work that falls due on the sandbox clock.
    """

    def __init__(self, apps: Iterable[SandboxApp], routes: RouteTable | None = None):
        self.lock = threading.RLock()
        self._apps: dict[str, SandboxApp] = {app.appid: app for app in apps}
        self.routes = routes or RouteTable()
        self.received = ReceivedLog()
        self.faults = FaultQueue(self.routes)
        self.clock_offset = 0.0
        # Seconds every WeChat request waits before it is answered (PUT /sandbox/latency): a network
        # and WeChat's own time, for benches and tests; a control, not something WeChat does on its own.
        self.latency = 0.0
        self._parts: dict[type, object] = {}
        self._clock_listeners: list[ClockListener] = []
        # Set when the sandbox also serves secapi/ over TLS (server.py): the CA issuing merchant
        # certificates (tls.CertificateAuthority) and that port's base URL.
        self.tls_authority: Any = None
        self.secapi_url: str | None = None
        # Set when the sandbox serves WeChat Pay APIv3 over HTTPS (server.py): that port's base URL.
        self.v3_url: str | None = None

    # --- clock -----------------------------------------------------------------

    def now(self) -> float:
        """Sandbox time, unix seconds: real time plus the offset the control API advanced it by."""
        return time.time() + self.clock_offset

    def advance_clock(self, seconds: float) -> None:
        """Forward, or back (negative) as far as real time: a sandbox clock behind the product's would make
        WeChat's time rules (time_expire at least 5 minutes ahead) refuse what real WeChat accepts."""
        with self.lock:
            self.clock_offset = max(0.0, self.clock_offset + seconds)
            listeners = list(self._clock_listeners) if seconds > 0 else []
        for listener in listeners:  # outside the lock: a listener may send callbacks over HTTP
            listener(self)

    def reset_clock(self) -> None:
        with self.lock:
            self.clock_offset = 0.0

    def add_clock_listener(self, listener: ClockListener) -> None:
        """Call `listener(sandbox)` after every advance of the clock (kept across reset and restore)."""
        with self.lock:
            self._clock_listeners.append(listener)

    # --- feature state ---------------------------------------------------------------

    def part(self, part_class: type[Part]) -> Part:
        """A feature's state; call under `lock`."""
        if part_class not in self._parts:
            self._parts[part_class] = part_class()
        return self._parts[part_class]  # type: ignore[return-value]

    def reset(self) -> None:
        """Forget everything but the registered apps and the parts that, like them, are registrations (merchants)."""
        with self.lock:
            self._parts = {cls: part for cls, part in self._parts.items() if getattr(cls, "survives_reset", False)}
            for part in self._parts.values():
                # A registration may hold passing state too (merchant keys' pending answer tampering).
                if hasattr(part, "forget_passing_state"):
                    part.forget_passing_state()
            self.clock_offset = 0.0
            self.latency = 0.0
            self.received.clear()
            self.faults.clear()

    # --- apps ------------------------------------------------------------------------

    @property
    def apps(self) -> dict[str, SandboxApp]:
        """A copy of the registered apps by appid, taken under the lock."""
        with self.lock:
            return dict(self._apps)

    def app(self, appid: str) -> SandboxApp | None:
        with self.lock:
            return self._apps.get(appid)

    def register_app(self, app: SandboxApp) -> None:
        with self.lock:
            self._apps[app.appid] = app

    def remove_app(self, appid: str) -> bool:
        """Forget the app and everything issued to it (each part's forget_app); False if it was not registered."""
        with self.lock:
            if self._apps.pop(appid, None) is None:
                return False
            for part in self._parts.values():
                forget = getattr(part, "forget_app", None)
                if forget is not None:
                    forget(appid)
            return True

    def registered_app(self, appid: str) -> SandboxApp:
        """The app a control request names, or a 400."""
        with self.lock:
            app = self._apps.get(appid)
            if app is None:
                registered = ", ".join(self._apps) or "none"
                raise BadControlInput(f"no app {appid!r} is registered; registered: {registered}")
            return app

    def app_from_credentials(
        self, appid: object, secret: object, *, kinds: Collection[str] | None = None
    ) -> SandboxApp:
        """The app an appid+secret pair names, checked in WeChat's order and with its errcodes.

        41002/41004 missing, 47001 not a string (a JSON body's other types), 40013 an
        appid not registered or not of `kinds` (the endpoint's "appid" parameter takes
        only those: 小程序登录 code2Session takes a Mini Program's), 40125 wrong secret.
        """
        if appid is None or appid == "":
            raise WeChatErrcode(41002)
        if secret is None or secret == "":
            raise WeChatErrcode(41004)
        if not isinstance(appid, str) or not isinstance(secret, str):
            raise WeChatErrcode(47001)
        app = self.app(appid)
        if app is None or (kinds is not None and app.kind not in kinds):
            raise WeChatErrcode(40013)
        if not app.has_secret(secret):
            raise WeChatErrcode(40125)
        return app

    # --- snapshots -------------------------------------------------------------------

    def snapshot(self, *, include_received: bool = False) -> dict:
        """The whole state as JSON-ready data with no secret in clear (see restore())."""
        with self.lock:
            unsaved = sorted(cls.__qualname__ for cls in self._parts if cls not in _SNAPSHOT_PARTS.values())
            if unsaved:
                raise NotSnapshottable(f"sandbox parts not registered with @snapshot_part: {', '.join(unsaved)}")
            snapshot = {
                "version": SNAPSHOT_VERSION,
                "clock_offset": self.clock_offset,
                "apps": [app.to_snapshot() for app in self._apps.values()],
                "parts": {part.snapshot_name: part.to_snapshot() for part in self._parts.values()},  # type: ignore[attr-defined]
                "faults": self.faults.to_snapshot(),
            }
        if include_received:
            snapshot["received"] = self.received.requests()
        return snapshot

    def _callback_secrets_kept(self, restored: SandboxApp, snapshot_callback: dict | None) -> SandboxApp:
        """A snapshot has only digests of a callback's token and AES key: a sandbox that still holds the
        same ones (the same app, unchanged) keeps them, so it goes on signing and encrypting its pushes."""
        known = self._apps.get(restored.appid)
        if known is None or known.callback is None or restored.callback is None:
            return restored
        if known.callback.to_snapshot() != snapshot_callback:
            return restored
        return dataclasses.replace(restored, callback=known.callback)

    def restore(self, snapshot: dict) -> None:
        """Replace the whole state with a snapshot()'s; the received log only if the snapshot has one.

        Everything is rebuilt before anything is replaced, so a bad snapshot (a 400)
        leaves the sandbox as it was.
        """
        try:
            if snapshot.get("version") != SNAPSHOT_VERSION:
                raise BadControlInput(f"version must be {SNAPSHOT_VERSION}")
            offset = snapshot["clock_offset"]
            if isinstance(offset, bool) or not isinstance(offset, (int, float)):
                raise BadControlInput("clock_offset must be a number")
            apps = {app.appid: app for app in map(SandboxApp.from_snapshot, snapshot["apps"])}
            callbacks = {str(data["appid"]): data.get("callback") for data in snapshot["apps"]}
            parts: dict[type, object] = {}
            for name, data in snapshot["parts"].items():
                part_class = _SNAPSHOT_PARTS.get(name)
                if part_class is None:
                    raise BadControlInput(f"unknown part {name!r}; known: {', '.join(sorted(_SNAPSHOT_PARTS))}")
                parts[part_class] = part_class.from_snapshot(data)  # type: ignore[attr-defined]
            faults = self.faults.parse_snapshot(snapshot["faults"])
            received = snapshot.get("received")
            if received is not None and not all(isinstance(entry, dict) for entry in received):
                raise BadControlInput("received must be a list of objects")
        except BadControlInput:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise BadControlInput(f"not a sandbox snapshot: {type(error).__name__} {error}") from None
        with self.lock:
            self._apps = {appid: self._callback_secrets_kept(app, callbacks[appid]) for appid, app in apps.items()}
            self._parts = parts
            self.clock_offset = float(offset)
            self.faults.replace(faults)
            if received is not None:
                self.received.replace(received)
