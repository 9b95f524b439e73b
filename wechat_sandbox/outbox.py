"""Callbacks the sandbox sends, as WeChat sends them: on the sandbox clock, outside the state lock, retried.

A feature enqueues a delivery (an Official Account event; later payment and refund
notifications) with the retry policy WeChat documents for it. `deliver_due` posts
every delivery that is due, each attempt outside the state lock, and records the
outcome; a courier thread calls it a few times a second so callbacks arrive in real
time, and advancing the sandbox clock calls it at once, so tests drive retries
deterministically. An attempt that became due while the clock jumped is recorded at
the time it was due, as if the sandbox had waited.
"""

from __future__ import annotations

import itertools
import logging
import threading
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Literal

import requests
from werkzeug.wrappers import Request, Response

from wechat_sandbox.errors import BadControlInput
from wechat_sandbox.protocols import json_response
from wechat_sandbox.routes import Route
from wechat_sandbox.state import snapshot_part

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox

logger = logging.getLogger(__name__)

# Finished deliveries kept for GET /sandbox/outbox; a sandbox left running for days stays bounded.
FINISHED_KEPT = 10_000
ANSWER_KEPT_CHARACTERS = 500


def _answered_http_200(response: requests.Response) -> bool:
    return response.status_code == 200


def _answered_pay_v3_success(response: requests.Response) -> bool:
    return response.status_code in (200, 204)


def _answered_pay_success(response: requests.Response) -> bool:
    if response.status_code != 200:
        return False
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError:
        return False
    return (root.findtext("return_code") or "").strip() == "SUCCESS"


@dataclass(frozen=True)
class RetryPolicy:
    """How WeChat delivers one kind of callback: how long it waits for an answer, when it tries again."""

    name: str
    timeout_seconds: float
    retry_delays: tuple[float, ...]  # before each retry, after the attempt that failed
    acknowledged: Callable[[requests.Response], bool]
    source: str  # the WeChat document the policy follows


POLICIES = {
    policy.name: policy
    for policy in (
        RetryPolicy(
            name="official_account_push",
            timeout_seconds=5,
            retry_delays=(0, 0, 0),
            # Any answer in time ends it: an empty body or "success" means "no reply to the user".
            acknowledged=_answered_http_200,
            source="公众号文档, 基础消息能力 / 接收事件推送: 微信服务器在五秒内收不到响应会断掉连接，"
            "并且重新发起请求，总共重试三次",
        ),
        RetryPolicy(
            name="pay_notification",
            timeout_seconds=5,
            retry_delays=(15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600),
            acknowledged=_answered_pay_success,
            source="微信支付 V2 开发文档, 支付结果通知: 通知频率为15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h"
            " - 总计 24h4m; 商户返回 return_code SUCCESS 后不再通知",
        ),
        RetryPolicy(
            name="pay_notification_v3",
            timeout_seconds=5,
            retry_delays=(15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600),
            acknowledged=_answered_pay_v3_success,
            source="微信支付 APIv3 文档, 支付成功回调通知 / 退款结果通知: 商户需在5秒内应答; 接收成功: HTTP应答状态码"
            "需返回200或204, 无需返回应答报文; 否则按 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h 重新通知",
        ),
    )
}

Outcome = Literal["acknowledged", "refused", "timeout", "unreachable"]


@dataclass
class Attempt:
    at: float  # sandbox time the attempt was due
    outcome: Outcome
    http_status: int | None = None
    answer: str = ""  # the start of the answer's body


@dataclass
class Delivery:
    id: int
    url: str
    body: str
    content_type: str
    policy: str
    description: str
    enqueued_at: float
    due_at: float
    state: Literal["pending", "delivering", "delivered", "failed"] = "pending"
    attempts: list[Attempt] = field(default_factory=list)
    # A callback signed in its headers as each attempt is made (APIv3's Wechatpay-Timestamp must be
    # fresh): the name of a registered header signer, and what it needs (never a key).
    signer: str = ""
    signer_options: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


@snapshot_part("outbox")
class Outbox:
    """A sandbox part: every callback enqueued since the last reset, pending or finished; use under the lock."""

    def __init__(self) -> None:
        self.deliveries: dict[int, Delivery] = {}
        self._ids = itertools.count(1)

    def enqueue(
        self,
        *,
        url: str,
        body: str,
        content_type: str,
        policy: str,
        description: str,
        now: float,
        due_at: float | None = None,
        signer: str = "",
        signer_options: dict | None = None,
    ) -> Delivery:
        """Send at `due_at` (sandbox time; now when None): a refund is notified once it has gone through.

        `signer`: a header signer registered with `header_signer_register`, called at each attempt.
        """
        if policy not in POLICIES:
            raise ValueError(f"unknown retry policy {policy!r}")
        if signer and signer not in HEADER_SIGNERS:
            raise ValueError(f"unknown header signer {signer!r}")
        delivery = Delivery(
            id=next(self._ids),
            url=url,
            body=body,
            content_type=content_type,
            policy=policy,
            description=description,
            enqueued_at=now,
            due_at=now if due_at is None else due_at,
            signer=signer,
            signer_options=dict(signer_options or {}),
        )
        self.deliveries[delivery.id] = delivery
        self._forget_oldest_finished()
        return delivery

    def take_due(self, now: float) -> list[Delivery]:
        """The pending deliveries due by `now`, oldest due first, marked as being delivered."""
        due = [entry for entry in self.deliveries.values() if entry.state == "pending" and entry.due_at <= now]
        due.sort(key=lambda delivery: (delivery.due_at, delivery.id))
        for delivery in due:
            delivery.state = "delivering"
        return due

    def settle(self, delivery_id: int, attempt: Attempt) -> None:
        delivery = self.deliveries.get(delivery_id)
        if delivery is None or delivery.state != "delivering":
            return  # the sandbox was reset while this attempt was under way
        delivery.attempts.append(attempt)
        policy = POLICIES[delivery.policy]
        retries_done = len(delivery.attempts) - 1
        if attempt.outcome == "acknowledged":
            delivery.state = "delivered"
        elif retries_done < len(policy.retry_delays):
            delivery.state = "pending"
            delivery.due_at = attempt.at + policy.retry_delays[retries_done]
        else:
            delivery.state = "failed"

    def listing(self, state: str | None = None) -> list[dict]:
        return [delivery.as_dict() for delivery in self.deliveries.values() if state is None or delivery.state == state]

    def to_snapshot(self) -> dict:
        # A delivery under way when the snapshot is taken is restored as pending: it will be tried again.
        deliveries = [
            {**delivery.as_dict(), "state": "pending" if delivery.state == "delivering" else delivery.state}
            for delivery in self.deliveries.values()
        ]
        return {"deliveries": deliveries}

    @classmethod
    def from_snapshot(cls, snapshot: dict) -> Outbox:
        outbox = cls()
        for entry in snapshot.get("deliveries", []):
            attempts = [Attempt(**attempt) for attempt in entry.get("attempts", [])]
            delivery = Delivery(**{**entry, "attempts": attempts})
            if delivery.policy not in POLICIES:
                raise ValueError(f"delivery {delivery.id} has an unknown retry policy {delivery.policy!r}")
            outbox.deliveries[delivery.id] = delivery
        outbox._ids = itertools.count(max(outbox.deliveries, default=0) + 1)
        return outbox

    def _forget_oldest_finished(self) -> None:
        finished = [delivery.id for delivery in self.deliveries.values() if delivery.state in {"delivered", "failed"}]
        for delivery_id in finished[: max(0, len(finished) - FINISHED_KEPT)]:
            del self.deliveries[delivery_id]


# Header signers by name: (sandbox, delivery) -> headers, called outside the lock at each attempt.
HeaderSigner = Callable[["Sandbox", Delivery], dict[str, str]]
HEADER_SIGNERS: dict[str, HeaderSigner] = {}


def header_signer_register(name: str, signer: HeaderSigner) -> None:
    """Sign deliveries enqueued with `signer=name` as each attempt is made (a feature registers it at import)."""
    HEADER_SIGNERS[name] = signer


def attempt_delivery(delivery: Delivery, *, at: float, headers: dict[str, str] | None = None) -> Attempt:
    """POST the callback once, with the policy's timeout (and `headers`, e.g. signatures); never raises."""
    policy = POLICIES[delivery.policy]
    try:
        response = requests.post(
            delivery.url,
            data=delivery.body.encode(),
            headers={
                "Content-Type": delivery.content_type,
                "User-Agent": "Mozilla/4.0 (WeChat sandbox)",
                **(headers or {}),
            },
            timeout=policy.timeout_seconds,
            allow_redirects=False,
        )
    except requests.Timeout:
        return Attempt(at=at, outcome="timeout")
    except requests.RequestException as error:
        return Attempt(at=at, outcome="unreachable", answer=type(error).__name__)
    outcome: Outcome = "acknowledged" if policy.acknowledged(response) else "refused"
    return Attempt(
        at=at,
        outcome=outcome,
        http_status=response.status_code,
        answer=response.content[:ANSWER_KEPT_CHARACTERS].decode("utf-8", errors="replace"),
    )


def deliver_due(sandbox: Sandbox) -> int:
    """Attempt every delivery due by sandbox time now, retries included; returns how many attempts were made.

    Safe to call from several threads at once: a delivery is taken by one of them only.
    """
    attempts = 0
    while True:
        with sandbox.lock:
            due = sandbox.part(Outbox).take_due(sandbox.now())
        if not due:
            return attempts
        for delivery in due:
            headers = HEADER_SIGNERS[delivery.signer](sandbox, delivery) if delivery.signer else None
            attempt = attempt_delivery(delivery, at=delivery.due_at, headers=headers)
            attempts += 1
            with sandbox.lock:
                sandbox.part(Outbox).settle(delivery.id, attempt)


class OutboxCourier:
    """A daemon thread that delivers due callbacks in real time until stopped."""

    def __init__(self, sandbox: Sandbox, *, poll_seconds: float = 0.1):
        self._sandbox = sandbox
        self._poll_seconds = poll_seconds
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wechat-sandbox-outbox", daemon=True)

    def start(self) -> OutboxCourier:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stopping.wait(self._poll_seconds):
            try:
                deliver_due(self._sandbox)
            except Exception:
                # A bug here must not stop every later callback; the log has it.
                logger.exception("the WeChat sandbox's outbox failed to deliver")


def list_deliveries(sandbox: Sandbox, request: Request) -> Response:
    """GET ?state=pending|delivering|delivered|failed: callbacks sent or waiting, with every attempt's outcome."""
    state = request.args.get("state") or None
    if state not in {None, "pending", "delivering", "delivered", "failed"}:
        raise BadControlInput("state must be pending, delivering, delivered or failed")
    with sandbox.lock:
        deliveries = sandbox.part(Outbox).listing(state)
    return json_response({"count": len(deliveries), "deliveries": deliveries})


def deliver_now(sandbox: Sandbox, request: Request) -> Response:
    """POST: attempt every callback due by sandbox time now, and answer when done (tests use it instead of waiting)."""
    return json_response({"attempts": deliver_due(sandbox)})


ROUTES = (
    Route("/sandbox/outbox", ("GET",), list_deliveries),
    Route("/sandbox/outbox/deliver", ("POST",), deliver_now),
)
