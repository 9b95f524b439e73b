"""Buyers placing orders through the API as the Mini Program does, counting every answer.

Each order has one Idempotency-Key; an attempt that is not answered 201 (an outage's 503, or no
answer at all) is retried with the same key until it is, as our API documents a client should.
"""

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import requests

RETRY_PAUSE_SECONDS = 0.25
ORDER_GIVE_UP_SECONDS = 90
REQUEST_TIMEOUT_SECONDS = 20


@dataclass
class Tally:
    attempts: int = 0
    orders_answered: dict = field(default_factory=dict)  # order_no -> (idempotency key, quantities)
    statuses: Counter = field(default_factory=Counter)  # every answer, "no answer" for a dropped connection
    statuses_during_outage: Counter = field(default_factory=Counter)
    retried_orders: int = 0  # orders that needed more than one attempt
    unfinished: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Buyers:
    """`buyers` threads ordering from `sku_ids` at `base_url` until stopped; `outage` brackets the fault."""

    def __init__(self, base_url: str, buyers: list[dict], sku_ids: list[int]):
        self.base_url, self.buyers, self.sku_ids = base_url, buyers, sku_ids
        self.tally = Tally()
        self.stopping = threading.Event()
        self.in_outage = threading.Event()
        self.threads = [threading.Thread(target=self._buy, args=(buyer, number)) for number, buyer in enumerate(buyers)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def stop(self) -> Tally:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=ORDER_GIVE_UP_SECONDS + 30)
        return self.tally

    def _buy(self, buyer: dict, number: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {buyer['token']}"
        chooser = random.Random(number)
        while not self.stopping.is_set():
            items = [
                {"sku_id": sku_id, "quantity": chooser.randint(1, 3)} for sku_id in chooser.sample(self.sku_ids, 2)
            ]
            self._order(session, {"items": items, "address_id": buyer["address_id"]})

    def _order(self, session: requests.Session, body: dict) -> None:
        key = str(uuid.uuid4())
        give_up_at = time.monotonic() + ORDER_GIVE_UP_SECONDS
        tries = 0
        while time.monotonic() < give_up_at:
            tries += 1
            outage = self.in_outage.is_set()
            try:
                response = session.post(
                    f"{self.base_url}/api/v1/orders",
                    json=body,
                    headers={"Idempotency-Key": key},
                    timeout=REQUEST_TIMEOUT_SECONDS,
                )
                status = str(response.status_code)
            except requests.RequestException:
                response, status = None, "no answer"
            with self.tally.lock:
                self.tally.attempts += 1
                self.tally.statuses[status] += 1
                if outage or self.in_outage.is_set():
                    self.tally.statuses_during_outage[status] += 1
                if status == "201":
                    self.tally.orders_answered[response.json()["order_no"]] = (key, body["items"])
                    self.tally.retried_orders += tries > 1
                    return
            time.sleep(RETRY_PAUSE_SECONDS)
        with self.tally.lock:
            self.tally.unfinished.append(key)
