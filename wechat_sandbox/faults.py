"""Injected faults: what the next requests to a WeChat path suffer instead of (or before) a normal answer."""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, ErrorCode
from wechat_sandbox.routes import RouteTable, is_control_path, normalise_path

FAULT_FIELDS = ("path", "errcode", "errmsg", "delay", "drop", "http_status", "times")
# A delay is for provoking client timeouts; longer would only pin a server thread.
MAX_DELAY_SECONDS = 120.0


@dataclass
class Fault:
    id: int
    path: str
    errcode: ErrorCode | None  # an integer errcode, or a WeChat Pay err_code such as "SYSTEMERROR"
    errmsg: str | None
    delay: float | None
    drop: bool
    http_status: int | None
    times: int  # requests still to suffer it

    def as_dict(self) -> dict:
        return asdict(self)


def fault_from_control_input(body: ControlInput, *, fault_id: int, routes: RouteTable) -> Fault:
    path = body.text("path", required=True, max_length=256)
    if not path.startswith("/") or is_control_path(normalise_path(path)):
        raise BadControlInput("path must be a WeChat path such as /cgi-bin/token (not under /sandbox/)")
    path = normalise_path(path)
    fault = Fault(
        id=fault_id,
        path=path,
        errcode=body.raw("errcode"),
        errmsg=body.text("errmsg", max_length=512),
        delay=body.number("delay", minimum=0, maximum=MAX_DELAY_SECONDS),
        drop=body.boolean("drop"),
        http_status=body.integer("http_status", minimum=400, maximum=599),
        times=body.integer("times", minimum=1, maximum=1_000_000) or 1,
    )
    if fault.errcode is not None:
        refusal = routes.protocol_for(path).check_fault_code(fault.errcode)
        if refusal:
            raise BadControlInput(refusal)
    answers = [name for name in ("errcode", "http_status") if getattr(fault, name) is not None]
    answers += ["drop"] if fault.drop else []
    if len(answers) > 1:
        raise BadControlInput(f"give at most one of errcode, http_status and drop, not {' and '.join(answers)}")
    if not answers and not fault.delay:
        raise BadControlInput("a fault needs errcode, http_status, drop or delay")
    if fault.errmsg is not None and fault.errcode is None:
        raise BadControlInput("errmsg goes with errcode")
    return fault


class FaultQueue:
    """Faults in the order they were added; each request takes the first one for its (normalised) path."""

    def __init__(self, routes: RouteTable) -> None:
        self._routes = routes
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, body: ControlInput) -> Fault:
        with self._lock:
            fault = fault_from_control_input(body, fault_id=next(self._ids), routes=self._routes)
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

    def to_snapshot(self) -> list[dict]:
        return self.pending()

    def parse_snapshot(self, data: list[dict]) -> list[Fault]:
        """The faults a snapshot holds, checked as POST /sandbox/faults checks them, ids kept."""
        faults = []
        for entry in data:
            fault_id = entry["id"]
            if isinstance(fault_id, bool) or not isinstance(fault_id, int) or fault_id < 1:
                raise BadControlInput("a fault's id must be a positive integer")
            fields = {name: value for name, value in entry.items() if name != "id"}
            body = ControlInput(allowed=FAULT_FIELDS, body=fields, name="faults[]")
            faults.append(fault_from_control_input(body, fault_id=fault_id, routes=self._routes))
        return faults

    def replace(self, faults: list[Fault]) -> None:
        with self._lock:
            self._faults = list(faults)
            self._ids = itertools.count(max((fault.id for fault in faults), default=0) + 1)
