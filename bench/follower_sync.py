"""Syncing an Official Account's followers from the WeChat sandbox into PostgreSQL, against a COPY of the same rows.

    DATABASE_URL=postgres://user@host:5432/name .venv/bin/python bench/follower_sync.py
        [--followers 50000 200000] [--latency-ms 30] [--rounds 3] [--quick] [--record --note "..."]

Creates its own database (<name>_follower_bench, dropped at the end) and starts the sandbox as its
own process (manage.py wechat_sandbox) on a free loopback port, with one Official Account per size
in --followers (a tenth of each account's followers tagged): in its own process, its state and its
log of the requests it received are not counted as the sync's memory, and it does not share our GIL.

For each size, alternating over --rounds rounds (the order rotated each round), each run in a
fresh process into an emptied follower table:
- sync: the product's own followers_sync() through wechat/'s follower calls over HTTP, paging
  user/get (10,000 a page), user/info/batchget (100 a call) and tags/get, writing a page at a time:
  the account's first sync, as the table is empty;
- sync again, rows there: the same into a table holding every row already (the nightly sync),
  where each page is upserted;
- COPY (baseline): PostgreSQL's COPY FROM STDIN of the same rows (the sync's result, dumped with
  COPY TO once beforehand), streamed from a file in 1 MB blocks: no WeChat calls, no Python per row;
- at the smallest size, also the sync with the sandbox adding --latency-ms to every WeChat call
  (PUT /sandbox/latency), as calls over the internet to WeChat take.
It prints medians (min–max) of followers/s, seconds and each process's peak resident set (VmHWM
of the whole process: Python, Django, psycopg and their buffers), the sync's rate over COPY's (aim:
≥ 0.3) and its peak memory at the largest size over the smallest (aim: flat, about 1); and where
each run's time went: the CPU seconds of the measured process, of the sandbox's process and of
the PostgreSQL backend serving the run (from /proc), so the sandbox's share is seen apart from ours.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.harness import (  # noqa: E402 - after the path is set
    PlainTable,
    Spread,
    benchmarks_md_record,
    interleaved,
    machine_description,
    ratio_spread,
)
from bench.side_database import side_database  # noqa: E402

SECRET = "follower-bench-secret"
COPY_COLUMNS = [
    "account_id",
    "openid",
    "nickname",
    "tag_ids",
    "is_subscribed",
    "subscribed_at",
    "unsubscribed_at",
    "synced_at",
]
COPY_BLOCK_BYTES = 1024 * 1024
QUICK_SIZES = [2_000, 8_000]
SYNC, COPY, SYNC_SLOW = "sync", "COPY (baseline)", "sync, WeChat +{ms} ms a call"
SYNC_AGAIN = "sync again, rows there"
CPU_KEYS = ("cpu", "cpu_sandbox", "cpu_database")  # the measured process, the sandbox's, PostgreSQL's backend


def _appid(size: int) -> str:
    return f"wxfb{size:014d}"


def _cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (/proc/PID/stat, fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_bytes() -> int:
    """This process's peak resident set (VmHWM), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


# --- the measured sides, each `bench/follower_sync.py --side NAME ...` in a fresh process ---------------------


def _side_sync(arguments) -> dict:
    import django

    django.setup()
    from django.conf import settings

    # As in production: DEBUG would keep every query in memory, which is exactly what is measured.
    settings.DEBUG = False
    settings.WECHAT_API_BASE_URL = arguments.sandbox_url
    from django.db import connection

    from articles.services.followers import followers_sync
    from wechat.models import OfficialAccount

    account = OfficialAccount.objects.get(appid=arguments.appid)
    backend = connection.connection.info.backend_pid
    cpu_before, backend_before = _cpu_seconds(os.getpid()), _cpu_seconds(backend)
    started = time.perf_counter()
    result = followers_sync(account=account)
    seconds = time.perf_counter() - started
    if result.skipped:
        sys.exit("the sync was skipped: another run held the account")
    return {
        "seconds": seconds,
        "rows": result.followers,
        "peak_rss": _peak_rss_bytes(),
        "cpu": _cpu_seconds(os.getpid()) - cpu_before,
        "cpu_database": _cpu_seconds(backend) - backend_before,
    }


def _side_copy(arguments) -> dict:
    import psycopg

    cpu_before = _cpu_seconds(os.getpid())
    started = time.perf_counter()
    with psycopg.connect(os.environ["DATABASE_URL"]) as connection, connection.cursor() as cursor:
        backend_before = _cpu_seconds(connection.info.backend_pid)
        with (
            arguments.rows_file.open("rb") as rows,
            cursor.copy(f"COPY articles_follower ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy,
        ):
            while block := rows.read(COPY_BLOCK_BYTES):
                copy.write(block)
        written = cursor.rowcount
        # The foreign key to the account is checked at COMMIT (deferred): counted, as the sync's own commits are.
        connection.commit()
        cpu_database = _cpu_seconds(connection.info.backend_pid) - backend_before
    return {
        "seconds": time.perf_counter() - started,
        "rows": written,
        "peak_rss": _peak_rss_bytes(),
        "cpu": _cpu_seconds(os.getpid()) - cpu_before,
        "cpu_database": cpu_database,
    }


def _side_run(side: str, environment: dict, *extra: str) -> dict:
    answer = subprocess.run(
        [sys.executable, __file__, "--side", side, *extra], env=environment, capture_output=True, text=True, check=False
    )
    if answer.returncode != 0:
        sys.exit(f"the {side} side failed:\n{answer.stderr[-3000:]}")
    return json.loads(answer.stdout.strip().splitlines()[-1])


# --- the sandbox and the data --------------------------------------------------------------------------------


def _sandbox_start(log: Path) -> tuple[subprocess.Popen, str]:
    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "wechat_sandbox", "--port", str(port)],
            cwd=BASE_DIR,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "true"},
            stdout=output,  # a line per request
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 60
    while True:
        try:
            requests.get(f"{url}sandbox/", timeout=1)
            return process, url
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                sys.exit(f"the WeChat sandbox did not start; its log:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)


def _account_create(control, size: int):
    from wechat.models import OfficialAccount

    appid = _appid(size)
    control.register_app(appid, SECRET, "official_account")
    vip = control.create_tag(appid, "VIP")
    tagged = size // 10
    control.add_followers(appid, count=size - tagged)
    if tagged:
        control.add_followers(appid, count=tagged, tag_ids=[vip])
    return OfficialAccount.objects.create(
        name=f"Bench {size}",
        appid=appid,
        app_secret=SECRET,
        account_type=OfficialAccount.AccountType.SERVICE,
        callback_token="benchToken42",
        encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    )


def _followers_empty() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE articles_follower CASCADE")


def _rows_load(path: Path) -> None:
    """The followers table filled from a dump, untimed: the rows an earlier sync left."""
    from django.db import connection

    connection.ensure_connection()
    with connection.connection.cursor() as cursor, path.open("rb") as rows:
        with cursor.copy(f"COPY articles_follower ({', '.join(COPY_COLUMNS)}) FROM STDIN") as copy:
            while block := rows.read(COPY_BLOCK_BYTES):
                copy.write(block)


def _rows_dump(path: Path) -> int:
    """The followers table as COPY text, for the baseline; returns its rows."""
    from django.db import connection

    rows = 0
    connection.ensure_connection()
    with connection.connection.cursor() as cursor, path.open("wb") as output:
        with cursor.copy(f"COPY articles_follower ({', '.join(COPY_COLUMNS)}) TO STDOUT") as copy:
            for block in copy:
                output.write(block)
                rows += bytes(block).count(b"\n")
    return rows


def _mb(count: float) -> float:
    return count / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--followers", type=int, nargs="+", default=[50_000, 200_000], help="sizes, followers each")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}: for tests, seconds")
    parser.add_argument("--latency-ms", type=float, default=30, help="the sandbox's delay a call in the slow run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="write the figures to docs/benchmarks.md")
    parser.add_argument("--note", default="", help="recorded with the figures: what the reader should know of the run")
    parser.add_argument("--keep", action="store_true", help="keep the bench's database afterwards")
    parser.add_argument("--side", choices=["sync", "copy"], help=argparse.SUPPRESS)
    parser.add_argument("--appid", help=argparse.SUPPRESS)
    parser.add_argument("--sandbox-url", help=argparse.SUPPRESS)
    parser.add_argument("--rows-file", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.side:  # a child: its environment names the bench database already
        print(json.dumps((_side_sync if arguments.side == "sync" else _side_copy)(arguments)))
        return

    sizes = sorted(QUICK_SIZES if arguments.quick else arguments.followers)
    slow_label = SYNC_SLOW.format(ms=f"{arguments.latency_ms:g}")
    database = side_database("follower_bench")
    work_dir = Path(tempfile.mkdtemp(prefix="bench-followers-"))
    environment = {
        **os.environ,
        "DATABASE_URL": database.url,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DJANGO_VAR_DIR": str(work_dir / "var"),
    }
    database.recreate()
    os.environ.update(environment)
    import django

    django.setup()
    from django.core.management import call_command

    from wechat_sandbox.client import SandboxClient

    sandbox, sandbox_url = _sandbox_start(work_dir / "sandbox.log")
    results: dict[int, dict[str, list[dict]]] = {}
    try:
        call_command("migrate", verbosity=0)
        control = SandboxClient(sandbox_url, timeout=120)
        print(f"{machine_description()}; sandbox {sandbox_url}", flush=True)
        for size in sizes:
            account = _account_create(control, size)
            sync_arguments = ("--appid", account.appid, "--sandbox-url", sandbox_url)
            # Once first: the rows COPY writes are the sync's own.
            _followers_empty()
            first = _side_run("sync", environment, *sync_arguments)
            rows_file = work_dir / f"followers-{size}.copy"
            dumped = _rows_dump(rows_file)
            if not first["rows"] == dumped == size:
                sys.exit(f"expected {size} followers: synced {first['rows']}, dumped {dumped}")

            def run(side: str, *extra: str, latency: float = 0.0, rows_there: Path | None = None) -> dict:
                _followers_empty()
                if rows_there is not None:
                    _rows_load(rows_there)
                control.set_latency(latency)
                try:
                    sandbox_before = _cpu_seconds(sandbox.pid)
                    answer = _side_run(side, environment, *extra)
                    # The sandbox serves nothing else meanwhile: what it used, it used for this run.
                    return {**answer, "cpu_sandbox": _cpu_seconds(sandbox.pid) - sandbox_before}
                finally:
                    control.set_latency(0)

            runs = {
                SYNC: lambda _, sync_arguments=sync_arguments: run("sync", *sync_arguments),
                COPY: lambda _, rows_file=rows_file: run("copy", "--rows-file", str(rows_file)),
            }
            # The nightly case: every follower already stored by an earlier run, so each row is updated.
            runs[SYNC_AGAIN] = lambda _, sync_arguments=sync_arguments, rows_file=rows_file: run(
                "sync", *sync_arguments, rows_there=rows_file
            )
            if size == sizes[0] and arguments.latency_ms:
                runs[slow_label] = lambda _, sync_arguments=sync_arguments: run(
                    "sync", *sync_arguments, latency=arguments.latency_ms / 1000
                )
            print(f"{size:,} followers ({size // 10:,} tagged), {arguments.rounds} interleaved rounds ...", flush=True)
            results[size] = interleaved(runs, rounds=arguments.rounds)
            for label, sides in results[size].items():
                if any(side["rows"] != size for side in sides):
                    sys.exit(f"FAILED: {label} wrote {[side['rows'] for side in sides]} rows, not {size}")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        from django.db import connections

        connections.close_all()
        if not arguments.keep:
            database.drop()
            shutil.rmtree(work_dir, ignore_errors=True)  # the rows files: 200,000 followers are 20 MB

    tables = {}
    for size, by_label in results.items():
        seconds = {label: [side["seconds"] for side in sides] for label, sides in by_label.items()}
        tables[f"{size:,} followers"] = PlainTable(
            header=[
                "run",
                "followers/s",
                "seconds",
                "peak RSS MB",
                "rate ratio to COPY",
                "CPU s: ours / sandbox / PostgreSQL",
            ],
            rows=[
                [
                    label,
                    Spread.of([size / value for value in seconds[label]]).text(0),
                    Spread.of(seconds[label]).text(2),
                    Spread.of([_mb(side["peak_rss"]) for side in sides]).text(0),
                    "1" if label == COPY else ratio_spread(seconds[COPY], seconds[label]).text(2),
                    " / ".join(f"{Spread.of([side[key] for side in sides]).median:.2f}" for key in CPU_KEYS),
                ]
                for label, sides in by_label.items()
            ],
            rounds=arguments.rounds,
        )
    settings_line = (
        "each run a fresh process into an emptied table (sync again: one holding every row); "
        "peak RSS is the process's VmHWM; "
        "the sandbox a process of its own; CPU medians from /proc: the measured process, the sandbox's, "
        "the PostgreSQL backend's"
    )
    print(f"\n{settings_line}")
    for title, table in tables.items():
        print(f"\n{title}:\n{table.text()}")
    print()
    ratios = []
    for size, by_label in results.items():
        seconds = {label: [side["seconds"] for side in sides] for label, sides in by_label.items()}
        for label in by_label:
            if label != COPY:
                ratio = ratio_spread(seconds[COPY], seconds[label]).median
                ratios.append(f"{label} / COPY at {size:,}: {ratio:.2f}")
                print(f"{label} / COPY at {size:,} followers: {ratio:.2f} of the rate (aim: ≥ 0.3)")
    small, large = sizes[0], sizes[-1]
    peaks = {size: Spread.of([side["peak_rss"] for side in results[size][SYNC]]).median for size in (small, large)}
    flat = peaks[large] / peaks[small]
    memory_line = (
        f"sync peak memory: {_mb(peaks[small]):.0f} MB at {small:,} followers, {_mb(peaks[large]):.0f} MB at "
        f"{large:,}: {flat:.2f}x (aim: flat, about 1)"
    )
    print(memory_line)
    cpu = {
        label: {key: Spread.of([side[key] for side in results[large][label]]).median for key in CPU_KEYS}
        for label in (SYNC, COPY)
    }
    cpu_line = (
        f"where the CPU went at {large:,} followers (medians, s): the sync's process {cpu[SYNC]['cpu']:.2f}, "
        f"the sandbox {cpu[SYNC]['cpu_sandbox']:.2f}, PostgreSQL {cpu[SYNC]['cpu_database']:.2f} "
        f"(COPY's PostgreSQL {cpu[COPY]['cpu_database']:.2f})"
    )
    print(cpu_line)
    if arguments.record:
        notes = f"{'; '.join(ratios)}. {memory_line}. {cpu_line[0].upper()}{cpu_line[1:]}. {arguments.note}".strip()
        benchmarks_md_record(bench="follower_sync", tables=tables, settings=settings_line, notes=notes)


if __name__ == "__main__":
    main()
