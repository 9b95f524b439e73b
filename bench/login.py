"""Mini Program logins over HTTP against the bare jscode2session round trip they must make, in one run.

    DATABASE_URL=postgres://... CACHE_URL=redis://... CELERY_BROKER_URL=amqp://... \\
        .venv/bin/python bench/login.py [--logins 200] [--rounds 3] [--quick] [--record]

Runs the product as production does (bench/harness.py: gunicorn on config/gunicorn.py, DEBUG off,
PostgreSQL with production's connection setting, the Redis cache and the broker the environment
names) on a database of its own beside DATABASE_URL's (<name>_login_bench, dropped at the end), with
WeChat played by the sandbox in a process of its own (python manage.py wechat_sandbox).

A load generator in its own process logs in one client at a time through POST /api/v1/auth/login:
- first logins: a customer the shop has never seen (a customer row is created);
- returning logins: customers who logged in before (a new code, the same openid).
The baseline is the bare `sns/jscode2session` round trip to the sandbox, which every login must make,
sent by the same load generator. Beside them, the floors (bench/login_floor.py), through the same
gunicorn, settings and middleware: an endpoint that only makes the jscode2session call through
wechatpy and answers a small JSON, and one that adds one PostgreSQL statement and one Redis command,
the fewest round trips a login can make. All alternate over three rounds, each round on fresh codes
(a code works once). The ratios are medians of latency: what our API adds on top of WeChat's call,
and what the stack alone adds (the floors).
Then, in this process: a cached access token against one fetched from the sandbox, which is what
the shared token store (Redis) saves. --record writes the figures to docs/benchmarks.md; --quick is
20 logins of each kind a round, for tests: seconds, not figures.
"""

import argparse
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.harness import (  # noqa: E402 - after the path is set
    P50_MS,
    BenchServices,
    HttpRun,
    LoadGenerator,
    ProductionServer,
    Request,
    bench_services,
    benchmarks_md_record,
    django_setup,
    figures_table,
    interleaved,
    production_environment,
)

BARE = "bare jscode2session (baseline)"
FIRST = "first login"
RETURNING = "returning login"
FLOOR_WECHAT = "floor: jscode2session through wechatpy"
FLOOR_STORES = "floor: + 1 PostgreSQL, 1 Redis"
FLOOR_PATHS = {FLOOR_WECHAT: "/api/bench/login-floor/wechat", FLOOR_STORES: "/api/bench/login-floor/stores"}
LOGIN_PATH = "/api/v1/auth/login"
QUICK_LOGINS = 20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logins", type=int, default=200, help="of each kind, per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="write the figures to docs/benchmarks.md")
    parser.add_argument("--note", default="", help="recorded with the figures: what the reader should know of the run")
    parser.add_argument("--keep-database", action="store_true", help="leave the database for inspection")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_LOGINS} logins of each kind: for tests, seconds")
    options = parser.parse_args()
    if options.quick:
        options.logins = QUICK_LOGINS

    with bench_services("login", keep_database=options.keep_database) as services:
        sandbox_port = _free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}/"
        environment = bench_environment(services, sandbox_url=sandbox_url)
        django_setup(environment)
        from django.db import connection
        from django_redis import get_redis_connection

        from bench.login_floor import FLOOR_COUNTER_KEY, FLOOR_TABLE_SQL
        from wechat_sandbox.client import SandboxClient

        with connection.cursor() as cursor:
            cursor.execute(FLOOR_TABLE_SQL)

        with (
            SandboxProcess(environment, port=sandbox_port, log=services.work_dir / "sandbox.log"),
            ProductionServer(environment, log=services.work_dir / "gunicorn.log") as server,
            LoadGenerator() as load,
        ):
            sandbox = SandboxClient(sandbox_url)
            returning_openids = [f"o-returning-{number}" for number in range(options.logins)]

            def codes(openids: list[str]) -> list[str]:
                return [sandbox.mint_login_code(openid=openid)["code"] for openid in openids]

            def logins(openids: list[str], path: str = LOGIN_PATH) -> HttpRun:
                return load.run(server.url, [_login_request(code, path) for code in codes(openids)], concurrency=1)

            def floor(label: str) -> Callable[[int], HttpRun]:
                return lambda round_number: logins(
                    [f"o-floor-{round_number}-{number}" for number in range(options.logins)], FLOOR_PATHS[label]
                )

            def bare(_: int) -> HttpRun:
                query = {
                    "appid": environment["WECHAT_MINI_PROGRAM_APPID"],
                    "secret": environment["WECHAT_MINI_PROGRAM_SECRET"],
                    "grant_type": "authorization_code",
                }
                paths = [
                    "/sns/jscode2session?" + urlencode({**query, "js_code": code})
                    for code in codes([f"o-bare-{number}" for number in range(options.logins)])
                ]
                return load.run(sandbox_url, [Request("GET", path) for path in paths], concurrency=1, proxied=False)

            warm_up = logins(returning_openids)  # every returning customer exists; every worker has served
            floor_warm_ups = [floor(label)(-1) for label in FLOOR_PATHS]  # each thread's wechatpy client built
            print(f"{options.rounds} rounds of {options.logins} logins of each kind, one at a time ...", flush=True)
            results = interleaved(
                {
                    BARE: bare,
                    FIRST: lambda round_number: logins(
                        [f"o-first-{round_number}-{number}" for number in range(options.logins)]
                    ),
                    RETURNING: lambda _: logins(returning_openids),
                    FLOOR_WECHAT: floor(FLOOR_WECHAT),
                    FLOOR_STORES: floor(FLOOR_STORES),
                },
                rounds=options.rounds,
            )
            settings_line = server.settings_line
            tokens = token_costs(environment, sandbox_url=sandbox_url, count=options.logins)
            get_redis_connection("default").delete(FLOOR_COUNTER_KEY)  # the bench's database goes; so does this
        runs = [warm_up, *floor_warm_ups, *(run for label_runs in results.values() for run in label_runs)]
        failed = [status for run in runs for status in run.statuses if status != 200]
        if failed:
            sys.exit(f"FAILED: answers not 200: {failed[:5]}")
        table = figures_table(results, baseline=BARE, metric=P50_MS)
        settings_line = f"{settings_line}; {options.logins} logins of each kind a round, one client at a time"
        print(f"\n{settings_line}\n\n{table.text()}")
        print(
            f"\nfirst login / bare jscode2session: {table.ratio(FIRST):.2f} (aim ≤ 3); "
            f"returning login / bare jscode2session: {table.ratio(RETURNING):.2f} (aim ≤ 2)\n"
            f"floors / bare jscode2session: jscode2session through wechatpy {table.ratio(FLOOR_WECHAT):.2f}, "
            f"+ 1 PostgreSQL and 1 Redis round trip {table.ratio(FLOOR_STORES):.2f} "
            f"(what the stack costs before any login code: {_floors_verdict(table)})"
        )
        print(f"\n{tokens}")
        if options.record:
            benchmarks_md_record(
                bench="login", tables={"": table}, settings=settings_line, notes=f"{tokens} {options.note}".strip()
            )


def _floors_verdict(table) -> str:
    """Whether the aims are within reach of login code on this stack, by the floors' medians."""
    beyond = [
        f"{kind} ≤ {aim}"
        for kind, floor, aim in (("returning", FLOOR_WECHAT, 2), ("first", FLOOR_STORES, 3))
        if table.ratio(floor) > aim
    ]
    if beyond:
        return f"above the aim {' and '.join(beyond)}, which no login code can then meet on this stack"
    return "within both aims, so what a login adds above them is ours to cut"


def bench_environment(services: BenchServices, *, sandbox_url: str) -> dict[str, str]:
    """Production's environment, WeChat's hosts replaced by the sandbox, the login throttle out of the way."""
    return production_environment(
        services,
        # Production's settings with the floors' URLs (bench/baseline_urls.py), for the product's runs too.
        DJANGO_SETTINGS_MODULE="bench.settings",
        WECHAT_API_BASE_URL=sandbox_url,
        WECHAT_PAY_API_BASE_URL=sandbox_url,
        # Production refuses a loopback WeChat unless told it is a staging site against the sandbox.
        WECHAT_ALLOW_PRIVATE_BASE_URL="true",
        # Every login comes from one address here; production's 20/min per address would refuse most.
        API_LOGIN_THROTTLE_RATE="1000000/min",
    )


def _login_request(code: str, path: str) -> Request:
    return Request("POST", path, json.dumps({"code": code}).encode(), {"Content-Type": "application/json"})


def token_costs(environment: dict[str, str], *, sandbox_url: str, count: int) -> str:
    """A cached access token (the shared Redis store) against one fetched from the sandbox, in this process."""
    from wechat.clients import official_account_client
    from wechat.tokens import TokenSource

    logging.getLogger("wechat").setLevel(logging.WARNING)
    source = TokenSource(
        appid=environment["WECHAT_OFFICIAL_ACCOUNT_APPID"],
        secret=environment["WECHAT_OFFICIAL_ACCOUNT_SECRET"],
        api_base_url=sandbox_url,
        endpoint="stable",
        timeout=5,
    )
    fetched = [_timed(source.fetch) for _ in range(count)]
    store = official_account_client().token_store
    store.get()
    cached = [_timed(store.get) for _ in range(count * 10)]
    fetched_ms, cached_ms = statistics.median(fetched) * 1000, statistics.median(cached) * 1000
    return (
        f"Access token, medians in this process: cached in Redis {cached_ms:.3f} ms, fetched from the sandbox "
        f"{fetched_ms:.3f} ms: {cached_ms / fetched_ms:.3f}× a fetched one."
    )


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SandboxProcess:
    """python manage.py wechat_sandbox on `port`, with the bench's settings (its apps and secrets)."""

    def __init__(self, environment: dict[str, str], *, port: int, log: Path):
        self.environment, self.port, self.log = environment, port, log

    def __enter__(self) -> "SandboxProcess":
        with open(self.log, "w") as log:
            self._process = subprocess.Popen(
                [sys.executable, "manage.py", "wechat_sandbox", "--port", str(self.port)],
                cwd=BASE_DIR,
                env={**os.environ, **self.environment},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self._process.poll() is None:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/sandbox/", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:  # not listening yet
                time.sleep(0.2)
        self.__exit__()
        sys.exit(f"the sandbox did not start; its log:\n{self.log.read_text()[-3000:]}")

    def __exit__(self, *exc_info) -> None:
        self._process.terminate()
        self._process.wait(timeout=15)


if __name__ == "__main__":
    main()
