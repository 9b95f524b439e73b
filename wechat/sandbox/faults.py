"""Injected faults: what the next requests to a WeChat path suffer instead of (or before) a normal answer."""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass

from wechat.sandbox.errors import BadControlInput
from wechat.sandbox.web import ControlInput, is_control_path

FAULT_FIELDS = ("path", "errcode", "errmsg", "delay", "drop", "http_status", "times")
# A delay is for provoking client timeouts; longer would only pin a server thread.
MAX_DELAY_SECONDS = 120.0


@dataclass
class Fault:
    id: int
    path: str
    errcode: int | None
    errmsg: str | None
    delay: float | None
    drop: bool
    http_status: int | None
    times: int  # requests still to suffer it

    def as_dict(self) -> dict:
        return asdict(self)


def fault_from_control_input(body: ControlInput, *, fault_id: int) -> Fault:
    path = body.text("path", required=True, max_length=256)
    if not path.startswith("/") or is_control_path(path):
        raise BadControlInput("path must be a WeChat path such as /cgi-bin/token (not under /sandbox/)")
    fault = Fault(
        id=fault_id,
        path=path,
        errcode=body.integer("errcode", minimum=-(2**31), maximum=2**31 - 1),
        errmsg=body.text("errmsg", max_length=512),
        delay=body.number("delay", minimum=0, maximum=MAX_DELAY_SECONDS),
        drop=body.boolean("drop"),
        http_status=body.integer("http_status", minimum=400, maximum=599),
        times=body.integer("times", minimum=1, maximum=1_000_000) or 1,
    )
    answers = [name for name in ("errcode", "http_status") if getattr(fault, name) is not None]
    answers += ["drop"] if fault.drop else []
    if len(answers) > 1:
        raise BadControlInput(f"give at most one of errcode, http_status and drop, not {' and '.join(answers)}")
    if not answers and not fault.delay:
        raise BadControlInput("a fault needs errcode, http_status, drop or delay")
    if fault.errcode == 0:
        raise BadControlInput("errcode 0 is success, not a fault")
    if fault.errmsg is not None and fault.errcode is None:
        raise BadControlInput("errmsg goes with errcode")
    return fault


class FaultQueue:
    """Faults in the order they were added; each request takes the first one for its path."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, body: ControlInput) -> Fault:
        with self._lock:
            fault = fault_from_control_input(body, fault_id=next(self._ids))
            self._faults.append(fault)
            return fault

    def take(self, path: str) -> Fault | None:
        """The fault this request suffers, used up once its `times` run out."""
        with self._lock:
            for fault in self._faults:
                if fault.path == path:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def pending(self) -> list[dict]:
        with self._lock:
            return [fault.as_dict() for fault in self._faults]

    def clear(self) -> int:
        with self._lock:
            count = len(self._faults)
            self._faults.clear()
            return count
