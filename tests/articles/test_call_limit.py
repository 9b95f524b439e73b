"""WeChat's 60 mass-send calls a minute, held by one count shared by separate processes (workers on many hosts).

Two processes take slots as fast as they can for a few periods; together they never have
more than the limit in any span of one period, and they use what the limiter allows,
whichever shared cache holds the count (Redis in production, the database cache of the
embedded setup).
"""

import json
import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

from articles.services.call_limit import SUBWINDOWS
from tests.real_services import require_redis

LIMIT = 24
PERIOD_SECONDS = 3.0
RUN_SECONDS = 2 * PERIOD_SECONDS

TAKER = """
import json, sys, time, django
django.setup()
from articles.services.call_limit import CallSlotsBusy, call_slot_acquire
key, limit = sys.argv[1], int(sys.argv[2])
period, run_for = (float(value) for value in sys.argv[3:5])
print("ready", flush=True)
start_at = float(sys.stdin.readline())
time.sleep(max(0.0, start_at - time.time()))
taken = []
while time.time() < start_at + run_for:
    try:
        call_slot_acquire(key=key, limit=limit, period_seconds=period, wait_seconds=0)
        taken.append(time.time())
    except CallSlotsBusy:
        time.sleep(0.01)
print(json.dumps(taken))
"""


def takers(cache_url: str, key: str, processes: int = 2) -> list[float]:
    """Run `processes` takers together; the times at which any of them got a slot."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "USE_TEST_DATABASE": "1"}
    env["CACHE_URL"] = cache_url
    arguments = [key, str(LIMIT), str(PERIOD_SECONDS), str(RUN_SECONDS)]
    running = [
        subprocess.Popen(
            [sys.executable, "-c", TAKER, *arguments],
            cwd=settings.BASE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    # All start together once every interpreter has set Django up, however long a loaded machine takes.
    for process in running:
        assert process.stdout.readline().strip() == "ready", process.stderr.read()[-2000:]
    start_at = time.time() + 0.5
    for process in running:
        process.stdin.write(f"{start_at}\n")
        process.stdin.flush()
    times: list[float] = []
    per_process = []
    for process in running:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err[-2000:]
        taken = json.loads(out.strip().splitlines()[-1])
        per_process.append(len(taken))
        times += taken
    assert all(per_process), f"each process got slots: {per_process}"
    return sorted(times)


@pytest.fixture(params=["redis", "database"])
def shared_cache_url(request):
    if request.param == "redis":
        return require_redis()
    database_cache = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "call_slots"}}
    with override_settings(CACHES=database_cache):
        call_command("createcachetable")
    return "dbcache://call_slots"


@pytest.mark.django_db(transaction=True)
def test_two_processes_never_exceed_the_limit_in_any_period_and_use_what_it_allows(shared_cache_url):
    times = takers(shared_cache_url, f"test-{uuid.uuid4().hex}")

    busiest = max(sum(1 for other in times if start <= other < start + PERIOD_SECONDS) for start in times)
    assert busiest <= LIMIT
    windows = RUN_SECONDS / (PERIOD_SECONDS / SUBWINDOWS)
    allowed = windows * (LIMIT // (SUBWINDOWS + 2))
    assert len(times) >= allowed - 2 * (LIMIT // (SUBWINDOWS + 2))  # the first and last window may be cut short
