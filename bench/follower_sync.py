"""Syncing an Official Account's followers from the WeChat sandbox into PostgreSQL, against one bulk insert.

    DATABASE_URL=postgres://user@host:5432/name .venv/bin/python bench/follower_sync.py [--followers 200000]

Creates its own database (<name>_follower_bench, dropped at the end) and starts the sandbox as its
own process (manage.py wechat_sandbox) on a free loopback port, with one Official Account and
`followers` followers (a tenth of them tagged): in its own process, its state and its log of the
requests it received are not counted as the sync's memory, and it does not share our GIL.
The sync is the product's own: followers_sync() through wechat/'s follower calls over HTTP, paging user/get
(10,000 a page), user/info/batchget (100 a call) and tags/get, upserting a page at a time.
The baseline writes the same rows (read back from the sync's result) with one bulk_create into an
empty table: no WeChat calls, no upsert, everything in memory at once.

Each side runs twice: once timed (followers/s), once under tracemalloc for its peak of Python
allocations in this process (tracemalloc slows Python down, so that run is not timed).
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.side_database import side_database

APPID = "wx00000000000b0001"
SECRET = "follower-bench-secret"
# The baseline's one bulk_create sends its rows in statements of this many (one statement of
# 200,000 rows would be a 40 MB query); the sync writes the same size, a user/get page.
INSERT_BATCH_SIZE = 10_000


DATABASE = side_database("follower_bench")
os.environ["DATABASE_URL"] = DATABASE.url
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
os.environ["DJANGO_VAR_DIR"] = tempfile.mkdtemp(prefix="bench-followers-")
DATABASE.recreate()

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# As in production: DEBUG would keep every query in memory, which is exactly what is measured.
settings.DEBUG = False

import requests  # noqa: E402
from django.core.management import call_command  # noqa: E402

from articles.models import Follower  # noqa: E402
from articles.services.followers import followers_sync  # noqa: E402
from wechat.models import OfficialAccount  # noqa: E402
from wechat_sandbox.client import SandboxClient  # noqa: E402

ROW_FIELDS = ["account_id", "openid", "nickname", "tag_ids", "is_subscribed", "subscribed_at", "synced_at"]


def _sandbox_start() -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "manage.py", "wechat_sandbox", "--port", str(port)],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DJANGO_DEBUG": "true"},
        stdout=subprocess.DEVNULL,  # a line per request
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"{url}sandbox/", timeout=1)
            return process, url
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                sys.exit("the WeChat sandbox did not start")
            time.sleep(0.1)


def _sync(account: OfficialAccount) -> int:
    result = followers_sync(account=account)
    if result.skipped:
        sys.exit("the sync was skipped: another run held the account")
    return result.followers


def _bulk_insert(rows: list[dict]) -> int:
    return len(Follower.objects.bulk_create([Follower(**row) for row in rows], batch_size=INSERT_BATCH_SIZE))


def _timed(call) -> tuple[float, int]:
    started = time.perf_counter()
    written = call()
    return time.perf_counter() - started, written


def _peak_bytes(call) -> int:
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _empty_followers() -> None:
    Follower.objects.all().delete()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--followers", type=int, default=200_000, help="followers the account has at WeChat")
    parser.add_argument("--keep", action="store_true", help=f"keep the {DATABASE.name} database afterwards")
    options = parser.parse_args()

    sandbox, sandbox_url = _sandbox_start()
    settings.WECHAT_API_BASE_URL = sandbox_url
    try:
        call_command("migrate", verbosity=0)
        control = SandboxClient(sandbox_url, timeout=60)
        control.register_app(APPID, SECRET, "official_account")
        vip = control.create_tag(APPID, "VIP")
        tagged = options.followers // 10
        control.add_followers(APPID, count=options.followers - tagged)
        if tagged:
            control.add_followers(APPID, count=tagged, tag_ids=[vip])
        account = OfficialAccount.objects.create(
            name="Bench",
            appid=APPID,
            app_secret=SECRET,
            account_type=OfficialAccount.AccountType.SERVICE,
            callback_token="benchToken42",
            encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        )

        sync_seconds, synced = _timed(lambda: _sync(account))
        rows = list(Follower.objects.values(*ROW_FIELDS))
        _empty_followers()
        insert_seconds, inserted = _timed(lambda: _bulk_insert(rows))
        if not synced == inserted == len(rows) == options.followers:
            sys.exit(f"expected {options.followers} rows: synced {synced}, read back {len(rows)}, inserted {inserted}")

        _empty_followers()
        sync_peak = _peak_bytes(lambda: _sync(account))
        _empty_followers()
        insert_peak = _peak_bytes(lambda: _bulk_insert(rows))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        if not options.keep:
            from django.db import connections

            connections.close_all()
            DATABASE.drop()

    mb = 1024 * 1024
    print(f"followers: {options.followers:,} ({tagged:,} tagged); PostgreSQL {settings.DATABASES['default']['HOST']}")
    print("peak memory: tracemalloc's peak of this process's Python allocations (from a second, untimed run)")
    print(f"{'':28}{'followers/s':>14}{'seconds':>10}{'peak MB':>10}")
    print(f"{'sync from the sandbox':28}{synced / sync_seconds:>14,.0f}{sync_seconds:>10.1f}{sync_peak / mb:>10.1f}")
    print(
        f"{'baseline: one bulk insert':28}{inserted / insert_seconds:>14,.0f}{insert_seconds:>10.1f}"
        f"{insert_peak / mb:>10.1f}"
    )
    print(
        f"sync/baseline: {(synced / sync_seconds) / (inserted / insert_seconds):.2f}x the rate, "
        f"{sync_peak / insert_peak:.2f}x the peak memory"
    )


if __name__ == "__main__":
    main()
