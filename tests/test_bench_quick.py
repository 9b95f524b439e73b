"""Each realistic-load bench runs end to end in its quick mode on the real services and prints its ratio lines.

No figure is asserted: a test on a shared machine cannot time anything worth keeping. What is
asserted is that the bench starts what it needs (gunicorn, the sandbox, its own database beside
DATABASE_URL's), checks what it must (every planted discrepancy found, every row written, every
answer a 200), and prints the lines a reader looks for. docs/benchmarks.md says how to run them.
"""

import os
import subprocess
import sys
from urllib.parse import urlparse

import pytest
from django.conf import settings

from tests.real_services import REDIS_URL, reachable, require

pytestmark = pytest.mark.services

BENCH_TIMEOUT_SECONDS = 600


def _bench_run(script: str) -> str:
    database_url = os.environ.get("DATABASE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    require(urlparse(database_url).scheme.startswith("postgres") and reachable(database_url, 5432), "PostgreSQL")
    require(reachable(REDIS_URL, 6379), f"Redis at {REDIS_URL}")
    require(urlparse(broker_url).scheme in {"amqp", "redis"} and reachable(broker_url, 5672), "the broker")
    result = subprocess.run(
        [sys.executable, f"bench/{script}", "--quick"],
        cwd=settings.BASE_DIR,
        # The test Redis database, not the developer's cache; the bench's database is its own.
        env={**os.environ, "CACHE_URL": REDIS_URL},
        capture_output=True,
        text=True,
        timeout=BENCH_TIMEOUT_SECONDS,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.timeout(BENCH_TIMEOUT_SECONDS + 60)
def test_the_login_bench_logs_in_over_http_and_prints_its_ratios():
    output = _bench_run("login.py")

    assert "first login / bare jscode2session: " in output and "(aim ≤ 3)" in output
    assert "returning login / bare jscode2session: " in output and "(aim ≤ 2)" in output
    # The floors ran through the same server, each answering 200 (the bench stops on any other answer).
    assert "floors / bare jscode2session: jscode2session through wechatpy " in output
    assert "round 3/3: floor: + 1 PostgreSQL, 1 Redis ..." in output
    assert "round 3/3: " in output
    assert "Access token, medians in this process: cached in Redis " in output


@pytest.mark.timeout(BENCH_TIMEOUT_SECONDS + 60)
def test_the_storefront_bench_runs_both_loads_and_prints_their_ratios():
    output = _bench_run("storefront_read.py")

    assert "realistic / baseline: " in output and "(aim ≥ 0.5)" in output
    assert "single URL / baseline: " in output and "(aim ≥ 0.6)" in output
    assert "orders placed during the realistic runs: " in output
    assert "round 3/3: realistic: lists, details, orders" in output


@pytest.mark.timeout(BENCH_TIMEOUT_SECONDS + 60)
def test_the_pay_notify_bench_runs_the_floor_beside_v2_and_v3_and_prints_their_ratios():
    output = _bench_run("pay_notify.py")

    assert "v2 / baseline: " in output and "v3 / baseline: " in output and "(aim ≥ 0.5)" in output
    assert "floor / baseline: " in output and "v2 / floor: " in output and "v3 / floor: " in output
    assert "round 3/3: floor (one durable INSERT)" in output
    assert "round 3/3: floor (verify, check, mark paid once)" in output
    assert "v2 / floor (verify, check, mark paid once): " in output
    assert "v3 / floor (verify, check, mark paid once): " in output
    assert "; floor " in output and " ms CPU (" in output  # the floor's CPU per request, beside the others'
    assert "; floor, marking paid " in output
    # The outcome: every answer a success, each order paid once, the floors' every id stored once.
    assert "Orders paid 620 (distinct orders 620); notifications stored 800 of 800 sent, applied 620" in output
    assert "the floor's ids stored 310 (distinct 310); the second floor's orders paid 310 and ids stored 310" in output
    assert "answers not a success: 0." in output


@pytest.mark.timeout(BENCH_TIMEOUT_SECONDS + 60)
def test_the_follower_sync_bench_compares_with_copy_at_two_sizes_and_with_latency():
    output = _bench_run("follower_sync.py")

    assert "sync / COPY at 2,000 followers: " in output
    assert "sync / COPY at 8,000 followers: " in output
    assert "sync, WeChat +30 ms a call / COPY at 2,000 followers: " in output
    assert "sync peak memory: " in output and "(aim: flat, about 1)" in output


@pytest.mark.timeout(BENCH_TIMEOUT_SECONDS + 60)
def test_the_reconcile_bench_finds_every_planted_discrepancy_and_prints_its_ratio():
    output = _bench_run("reconcile.py")

    assert "reconciliation / csv.reader: " in output and "(aim: within 5x)" in output
    assert "reconciliation peak memory: " in output
    assert "discrepancies found: 50 of 50 planted, every round" in output


@pytest.mark.timeout(BENCH_TIMEOUT_SECONDS + 60)
def test_the_attribution_bench_checks_the_reports_totals_and_prints_its_ratios():
    output = _bench_run("attribution.py")

    for grouping in ("campaign", "push", "scene"):
        assert f"report by {grouping} / SUM GROUP BY: " in output and "(aim: within 3x)" in output
    assert "report totals agree with the orders: 20,000 orders, 4,000 buyers, every round" in output
    assert "round 3/3: " in output
