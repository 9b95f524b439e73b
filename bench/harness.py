"""What every HTTP bench shares: the product started as production runs it, a load generator in its
own process, interleaved rounds, medians with their spread, and the figures written to docs/benchmarks.md.

A bench using it:

    with bench_services("pay_notify") as services, ProductionServer(services) as server, LoadGenerator() as load:
        results = interleaved({"baseline": run_baseline, "product": run_product}, rounds=3)
        table = figures_table(results, baseline="baseline", metric=PER_SECOND)
        print(table.text())
        if options.record:
            benchmarks_md_record(bench="pay_notify", table=table, settings=...)

- The product is gunicorn with config/gunicorn.py (the processes and threads docs/deploy.md
  recommends), DEBUG off, the production database connection setting (config/settings.py),
  PostgreSQL, Redis as the cache and the broker the environment names: DATABASE_URL,
  CACHE_URL and CELERY_BROKER_URL must be set; the bench's database is its own, beside
  DATABASE_URL's (<name>_<bench>_bench, made afresh and dropped afterwards).
- Requests reach it as they do behind the TLS-terminating proxy docs/deploy.md asks for
  (X-Forwarded-Proto: https, X-Forwarded-For), so production's HTTPS redirect stays on.
- The load generator is a process of its own, so the bench's Python never competes with it.
- Runs alternate (product, baseline, reference, then the next round in a rotated order) so
  a change in the machine's load falls on all of them alike.
"""

import contextlib
import http.client
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from bench.side_database import SideDatabase, side_database  # noqa: E402 - after the path is set

BENCHMARKS_MD = BASE_DIR / "docs" / "benchmarks.md"
GUNICORN_CONFIG = BASE_DIR / "config" / "gunicorn.py"
START_TIMEOUT_SECONDS = 90
# What the proxy in front of gunicorn adds (docs/deploy.md): TLS ended there, the client's address.
PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}


# --- the product as production runs it -------------------------------------------------------


@dataclass
class BenchServices:
    """The bench's own database beside DATABASE_URL's, the environment's Redis cache and broker, a work folder."""

    database: SideDatabase
    cache_url: str
    broker_url: str
    work_dir: Path


@contextlib.contextmanager
def bench_services(bench: str, *, keep_database: bool = False) -> Iterator[BenchServices]:
    """Exits with the reason unless DATABASE_URL is PostgreSQL, CACHE_URL Redis and CELERY_BROKER_URL a real broker."""
    database = side_database(f"{bench}_bench")
    cache_url = os.environ.get("CACHE_URL", "")
    broker_url = os.environ.get("CELERY_BROKER_URL", "")
    if urlparse(cache_url).scheme not in {"redis", "rediss"}:
        sys.exit("Set CACHE_URL to Redis (redis://host:6379/1): production's cache, which the bench runs on.")
    if urlparse(broker_url).scheme not in {"redis", "rediss", "amqp", "amqps", "pyamqp"}:
        sys.exit("Set CELERY_BROKER_URL to Redis or RabbitMQ: production's broker, which the bench runs on.")
    database.recreate()
    work_dir = Path(tempfile.mkdtemp(prefix=f"bench-{bench}-"))
    try:
        yield BenchServices(database=database, cache_url=cache_url, broker_url=broker_url, work_dir=work_dir)
    finally:
        with contextlib.suppress(Exception):  # the bench's own connections, if it opened Django's
            from django.db import connections

            connections.close_all()
        if keep_database:
            print(f"kept: database {database.name}, logs in {work_dir}")
        else:
            database.drop()
            shutil.rmtree(work_dir, ignore_errors=True)


def production_environment(services: BenchServices, **overrides: str) -> dict[str, str]:
    """Every value production requires (config/settings.py), with DEBUG off; throwaway secrets, real services.

    Nothing about the database connection is set here: the bench runs on production's default.
    """
    from bench.merchant_certificate import merchant_certificate_environment

    mch_id = overrides.get("WECHAT_PAY_MCH_ID", "1900000001")
    return {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-only-" + "x" * 50,
        "DJANGO_FIELD_ENCRYPTION_SALT": "bench-only-salt",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_MEDIA_ROOT": str(services.work_dir / "media"),
        "DJANGO_VAR_DIR": str(services.work_dir / "var"),
        "DATABASE_URL": services.database.url,
        "CACHE_URL": services.cache_url,
        "CELERY_BROKER_URL": services.broker_url,
        "WECHAT_OFFICIAL_ACCOUNT_APPID": "wxbench000000000000",
        "WECHAT_OFFICIAL_ACCOUNT_SECRET": "bench-official-account-secret",
        "WECHAT_MINI_PROGRAM_APPID": "wxbench000000000001",
        "WECHAT_MINI_PROGRAM_SECRET": "bench-mini-program-secret",
        "WECHAT_PAY_MCH_ID": mch_id,
        "WECHAT_PAY_API_KEY": "bench0pay0notify0api0key00000000",  # production refuses one not 32 characters
        "WECHAT_PAY_NOTIFY_URL": "https://shop.example.com/wechat/pay/notify/",
        # Required in production, read at start; no refund is made by a bench.
        **merchant_certificate_environment(work_dir=services.work_dir, mch_id=mch_id),
        **overrides,
    }


def django_setup(environment: dict[str, str]) -> None:
    """This process's Django on the bench's environment, its database migrated: for loading data and checking it."""
    os.environ.update(environment)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class ProductionServer:
    """gunicorn on config/gunicorn.py and config.wsgi, started with `environment`, stopped on the way out."""

    def __init__(self, environment: dict[str, str], *, log: Path, arguments: tuple[str, ...] = ()):
        self.environment = environment
        self.log = log
        self.arguments = arguments
        self.url = ""
        self._process: subprocess.Popen | None = None

    def __enter__(self) -> "ProductionServer":
        listener = socket.create_server(("127.0.0.1", 0))
        with listener, open(self.log, "w") as log:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--config",
                    str(GUNICORN_CONFIG),
                    "--bind",
                    f"fd://{listener.fileno()}",
                    # One fixed path by default, which two benches' servers would share.
                    "--no-control-socket",
                    *self.arguments,
                    "config.wsgi",
                ],
                cwd=BASE_DIR,
                env={**os.environ, **self.environment},
                pass_fds=[listener.fileno()],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        self._wait_until_serving()
        return self

    def __exit__(self, *exc_info) -> None:
        self._process.send_signal(signal.SIGINT)  # quick shutdown; SIGTERM waits for keep-alive clients
        try:
            self._process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=5)

    @property
    def pid(self) -> int:
        """gunicorn's master process (its workers are its children)."""
        return self._process.pid

    @property
    def settings_line(self) -> str:
        """What ran, for the printed figures: the gunicorn processes and threads the config file gave."""
        workers = self.environment.get("WEB_CONCURRENCY", os.environ.get("WEB_CONCURRENCY", "4"))
        threads = self.environment.get("WEB_THREADS", os.environ.get("WEB_THREADS", "4"))
        return f"gunicorn {workers} workers × {threads} threads (config/gunicorn.py), DEBUG off"

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        address = urlparse(self.url)
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                sys.exit(f"gunicorn exited with {self._process.returncode}; its log:\n{self.log.read_text()[-3000:]}")
            try:
                connection = http.client.HTTPConnection(address.hostname, address.port, timeout=5)
                connection.request("GET", "/api/v1/health", headers=PROXY_HEADERS)
                answer = connection.getresponse()
                body = answer.read()
                connection.close()
                if b'"database":"ok"' in body.replace(b" ", b""):
                    return
            except OSError:  # not accepting yet, or workers still booting
                pass
            time.sleep(0.3)
        sys.exit(f"gunicorn did not answer within {START_TIMEOUT_SECONDS} s; its log:\n{self.log.read_text()[-3000:]}")


# --- the load generator, a process of its own ------------------------------------------------


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpRun:
    """One run of requests: how long it took, each request's latency, status and the start of its answer."""

    seconds: float
    latencies: list[float]
    statuses: list[int]
    answers: list[bytes]

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.latencies) * 1000

    @property
    def p99_ms(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


class LoadGenerator:
    """Sends requests from a process of its own, `concurrency` threads each on its own keep-alive connection."""

    def __enter__(self) -> "LoadGenerator":
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self._pool.submit(time.sleep, 0).result()  # started now, not inside the first timed run
        return self

    def __exit__(self, *exc_info) -> None:
        self._pool.shutdown()

    def run(self, base_url: str, requests: list[Request], *, concurrency: int, proxied: bool = True) -> HttpRun:
        """Every request against `base_url`; `proxied` adds what the proxy in front of gunicorn adds."""
        return self._pool.submit(_send_all, base_url, requests, concurrency, proxied).result()


def _send_all(base_url: str, requests: list[Request], concurrency: int, proxied: bool) -> HttpRun:
    """In the load generator's process. http.client, not requests: a fifth of the client's cost per request."""
    address = urlparse(base_url)
    prefix = address.path.rstrip("/")
    local = threading.local()
    extra_headers = PROXY_HEADERS if proxied else {}

    def send(request: Request) -> tuple[float, int, bytes]:
        started = time.perf_counter()
        for attempt in range(2):  # once more on a connection the server closed while it was idle
            if getattr(local, "connection", None) is None:
                local.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
            try:
                local.connection.request(
                    request.method,
                    prefix + request.path,
                    body=request.body or None,
                    headers={**extra_headers, **request.headers},
                )
                answer = local.connection.getresponse()
                content = answer.read()
                if answer.getheader("Connection", "").lower() == "close":
                    local.connection.close()
                    local.connection = None
                return time.perf_counter() - started, answer.status, content[:512]
            except (http.client.HTTPException, OSError):
                local.connection.close()
                local.connection = None
                if attempt:
                    raise
                started = time.perf_counter()
        raise AssertionError("unreachable")

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(send, requests))
    seconds = time.perf_counter() - started
    return HttpRun(
        seconds=seconds,
        latencies=[latency for latency, _, _ in results],
        statuses=[status for _, status, _ in results],
        answers=[answer for _, _, answer in results],
    )


# --- interleaved rounds, medians and ratios --------------------------------------------------


def interleaved(runs: dict[str, Callable[[int], "HttpRun | Any"]], *, rounds: int = 3) -> dict[str, list]:
    """Each run `rounds` times, alternating: round r starts at the r-th label, so none is always first.

    A run is called with its round's number (to pick that round's fresh data). Returns each label's runs.
    """
    labels = list(runs)
    results: dict[str, list[HttpRun]] = {label: [] for label in labels}
    for round_number in range(rounds):
        for label in labels[round_number % len(labels) :] + labels[: round_number % len(labels)]:
            print(f"  round {round_number + 1}/{rounds}: {label} ...", flush=True)
            results[label].append(runs[label](round_number))
    return results


@dataclass(frozen=True)
class Metric:
    """What a table compares: per_second (higher is better) or p50_ms (lower is better)."""

    name: str
    unit: str
    value: Callable[[HttpRun], float]


PER_SECOND = Metric("per_second", "/s", lambda run: run.per_second)
P50_MS = Metric("p50_ms", "ms", lambda run: run.p50_ms)


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> "Spread":
        return cls(statistics.median(values), min(values), max(values))

    def text(self, digits: int) -> str:
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}–{self.high:.{digits}f})"


@dataclass(frozen=True)
class FiguresRow:
    label: str
    metric: Spread
    p50_ms: Spread
    p99_ms: Spread
    ratio: Spread | None  # against the baseline, round by round; None for the baseline itself


@dataclass(frozen=True)
class FiguresTable:
    metric: Metric
    baseline: str
    rounds: int
    rows: list[FiguresRow]

    def ratio(self, label: str) -> float:
        return next(row.ratio.median for row in self.rows if row.label == label)

    def header(self) -> list[str]:
        rate = [f"{self.metric.name} {self.metric.unit}"] if self.metric is not P50_MS else []
        return ["run", *rate, "p50 ms", "p99 ms", f"ratio to {self.baseline}"]

    def cells(self) -> list[list[str]]:
        return [
            [
                row.label,
                *([row.metric.text(0)] if self.metric is not P50_MS else []),
                row.p50_ms.text(2),
                row.p99_ms.text(1),
                "1" if row.ratio is None else row.ratio.text(2),
            ]
            for row in self.rows
        ]

    def text(self) -> str:
        """Plain columns for the terminal."""
        lines = [self.header(), *self.cells()]
        widths = [max(len(line[column]) for line in lines) for column in range(len(lines[0]))]
        return "\n".join(
            "  ".join(
                cell.ljust(width) if column == 0 else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(line, widths, strict=True))
            )
            for line in lines
        )

    def markdown(self) -> str:
        lines = [self.header(), ["---"] * len(self.header()), *self.cells()]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def figures_table(results: dict[str, list[HttpRun]], *, baseline: str, metric: Metric) -> FiguresTable:
    """Medians with their min–max over the rounds; each ratio is the median of the rounds' own ratios.

    A round's ratio divides runs that ran next to each other, so a load change between rounds
    moves it less than it moves either run.
    """
    rows = []
    for label, runs in results.items():
        ratio = None
        if label != baseline:
            ratio = Spread.of(
                [metric.value(run) / metric.value(base) for run, base in zip(runs, results[baseline], strict=True)]
            )
        rows.append(
            FiguresRow(
                label=label,
                metric=Spread.of([metric.value(run) for run in runs]),
                p50_ms=Spread.of([run.p50_ms for run in runs]),
                p99_ms=Spread.of([run.p99_ms for run in runs]),
                ratio=ratio,
            )
        )
    return FiguresTable(metric=metric, baseline=baseline, rounds=len(results[baseline]), rows=rows)


@dataclass(frozen=True)
class PlainTable:
    """Figures that are not HTTP runs (seconds, rows/s, peak memory), in the same text and markdown forms.

    `rows` are already formatted cells; benchmarks_md_record takes it beside a FiguresTable.
    """

    header: list[str]
    rows: list[list[str]]
    rounds: int

    def text(self) -> str:
        lines = [self.header, *self.rows]
        widths = [max(len(line[column]) for line in lines) for column in range(len(self.header))]
        return "\n".join(
            "  ".join(
                cell.ljust(width) if column == 0 else cell.rjust(width)
                for column, (cell, width) in enumerate(zip(line, widths, strict=True))
            )
            for line in lines
        )

    def markdown(self) -> str:
        lines = [self.header, ["---"] * len(self.header), *self.rows]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def ratio_spread(values: list[float], baselines: list[float]) -> Spread:
    """The median of the rounds' own ratios (each round's value over the baseline run beside it), with min–max."""
    return Spread.of([value / base for value, base in zip(values, baselines, strict=True)])


# --- docs/benchmarks.md ----------------------------------------------------------------------


def machine_description() -> str:
    """nproc, the CPU model and the load average now: what a reader needs to weigh the figures."""
    model = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        if found := re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE):
            model = found.group(1).strip()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{os.cpu_count()} cores ({model}), load average {load}"


def benchmarks_md_record(
    *, bench: str, tables: dict[str, "FiguresTable | PlainTable"], settings: str, notes: str = ""
) -> None:
    """Replace bench/<bench>.py's latest figures in docs/benchmarks.md (between its markers) with these.

    The markers sit in the bench's own section; a bench recorded for the first time gets them
    appended at the end of the file, to be moved where they belong.
    """
    start, end = f"<!-- figures:{bench} -->", f"<!-- /figures:{bench} -->"
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=BASE_DIR, capture_output=True, text=True
    ).stdout.strip()
    parts = [
        start,
        f"Latest, {now} (commit {commit or 'unknown'}), {MACHINE_AT_START} as the run began; "
        f"{settings}; medians of {next(iter(tables.values())).rounds} interleaved rounds, (min–max):",
    ]
    for title, table in tables.items():
        parts += ["", f"{title}:", "", table.markdown()] if title else ["", table.markdown()]
    if notes:
        parts += ["", notes]
    parts.append(end)
    block = "\n".join(parts)
    text = BENCHMARKS_MD.read_text()
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip("\n") + "\n\n" + block + "\n"
    BENCHMARKS_MD.write_text(text)
    print(f"\nrecorded in {BENCHMARKS_MD.relative_to(BASE_DIR)}")


# Taken when the bench imports the harness, before its work loads the machine: what "as the run began" says.
MACHINE_AT_START = machine_description()
