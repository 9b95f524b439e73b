"""PostgreSQL restarted, and Redis stopped for 10 seconds, while 8 buyers place orders.

Against gunicorn, a worker and beat (its own process) on a private PostgreSQL cluster and Redis
server. Every order answered 201 exists; stock plus ordered quantities stays what it was; every
attempt that failed, retried with its Idempotency-Key, makes exactly one order; and a push
scheduled after the outage is sent, because beat outlived it.
"""

import time

import pytest

from tests.articles.pushes import wait_for
from tests.faults.load import Buyers, Tally
from wechat_sandbox.client import SandboxClient

pytestmark = [pytest.mark.faults, pytest.mark.services, pytest.mark.timeout(300)]

BUYERS = 8
STOCK_PER_SKU = 100_000
SECONDS_BEFORE_OUTAGE = 2
SECONDS_AFTER_OUTAGE = 3


def _stock_and_ordered(deployment) -> int:
    [(stock,)] = deployment.query("SELECT COALESCE(SUM(stock), 0) FROM catalog_sku")
    [(ordered,)] = deployment.query("SELECT COALESCE(SUM(quantity), 0) FROM orders_orderline")
    return stock + ordered


def _check_invariants(deployment, tally: Tally, stock_before: int) -> dict:
    stored = dict(deployment.query("SELECT order_no, idempotency_key FROM orders_order"))
    [(keys_made_twice,)] = deployment.query(
        "SELECT COUNT(*) FROM (SELECT customer_id, idempotency_key FROM orders_order"
        " GROUP BY customer_id, idempotency_key HAVING COUNT(*) > 1) AS twice"
    )
    lost = [order_no for order_no in tally.orders_answered if order_no not in stored]
    # An order nobody was answered about: an attempt whose retry made a second one.
    duplicates = [order_no for order_no in stored if order_no not in tally.orders_answered] + [keys_made_twice] * (
        keys_made_twice > 0
    )
    wrong_key = [no for no, (key, _) in tally.orders_answered.items() if no in stored and stored[no] != key]
    stock_after = _stock_and_ordered(deployment)
    assert not tally.unfinished, f"orders never answered 201 after {len(tally.unfinished)} keys' retries"
    assert lost == [], f"answered 201 but not stored: {lost}"
    assert duplicates == [], f"stored without an answer, or a key used twice: {duplicates}"
    assert wrong_key == []
    assert stock_after == stock_before, f"stock + ordered went from {stock_before} to {stock_after}"
    return {
        "attempts": tally.attempts,
        "orders": len(tally.orders_answered),
        "orders_retried": tally.retried_orders,
        "answers": dict(sorted(tally.statuses.items())),
        "answers_during_outage": dict(sorted(tally.statuses_during_outage.items())),
        "orders_lost": len(lost),
        "duplicates": len(duplicates),
        "stock_conserved": stock_after == stock_before,
    }


def _push_scheduled_now_is_sent(deployment, sandbox_server) -> float:
    started = time.monotonic()
    push = deployment.schedule_push()
    sandbox = SandboxClient(sandbox_server.url)
    wait_for(
        lambda: sandbox.mass_sends(push["appid"])["count"] == 1,
        timeout=60,
        interval=0.5,
        what=f"the push scheduled after the outage to be sent (beat log:\n{deployment.beat.log_text()[-2000:]})",
    )
    assert deployment.beat.running()
    return round(time.monotonic() - started, 1)


def _under_load(deployment, outage) -> tuple[Tally, int]:
    shop = deployment.seed_shop(sku_count=4, stock=STOCK_PER_SKU, buyer_count=BUYERS)
    stock_before = _stock_and_ordered(deployment)
    deployment.beat_and_worker_start()
    with deployment.web() as (url,):
        buyers = Buyers(url, shop["buyers"], shop["sku_ids"])
        buyers.start()
        try:
            time.sleep(SECONDS_BEFORE_OUTAGE)
            buyers.in_outage.set()
            try:
                outage()
            finally:
                buyers.in_outage.clear()
            time.sleep(SECONDS_AFTER_OUTAGE)
        finally:
            tally = buyers.stop()
    return tally, stock_before


def test_postgresql_restarted_while_eight_buyers_order(deployment, postgres, sandbox_server, figures):
    def restart_postgres():
        postgres.stop()
        time.sleep(3)
        postgres.start()

    tally, stock_before = _under_load(deployment, restart_postgres)

    outcome = _check_invariants(deployment, tally, stock_before)
    assert set(outcome["answers_during_outage"]) <= {"201", "503"}, outcome  # never a 500
    outcome["push_after_restart_sent_in_seconds"] = _push_scheduled_now_is_sent(deployment, sandbox_server)
    figures("PostgreSQL restarted (3 s down) under 8 buyers", **outcome)


def test_redis_stopped_for_ten_seconds_while_eight_buyers_order(deployment, private_redis, sandbox_server, figures):
    def stop_redis_for_ten_seconds():
        private_redis.stop()
        time.sleep(10)
        private_redis.start()

    tally, stock_before = _under_load(deployment, stop_redis_for_ten_seconds)

    outcome = _check_invariants(deployment, tally, stock_before)
    assert set(outcome["answers_during_outage"]) <= {"201", "503"}, outcome
    outcome["push_after_restart_sent_in_seconds"] = _push_scheduled_now_is_sent(deployment, sandbox_server)
    figures("Redis (cache and broker) stopped 10 s under 8 buyers", **outcome)
