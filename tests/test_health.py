"""/api/v1/health reports beat's last tick and the workers' liveness, and 503 when beat is silent.

Beat and the workers report through the shared cache (config/liveness.py). Here the times are
written as beat would have written them; tests/test_beat.py runs a real beat across a database
restart and reads its tick through a real gunicorn's health.
"""

import time

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from config.liveness import BEAT_LAST_TICK_KEY, BEAT_WATCH_STARTED_KEY, beat_tick_record
from tests.real_services import require

pytestmark = pytest.mark.django_db

HEALTH = "/api/v1/health"


def test_a_recent_tick_is_healthy_and_reported():
    beat_tick_record()

    response = APIClient().get(HEALTH)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["beat"] == "ok"
    assert body["beat"]["status"] == "ok"
    assert body["beat"]["last_tick"].endswith("+00:00")
    assert body["beat"]["seconds_since_last_tick"] <= 2
    assert body["beat"]["max_silence_seconds"] == 180


def test_beat_silent_for_over_three_minutes_is_degraded_with_503():
    cache.set(BEAT_LAST_TICK_KEY, time.time() - 181, timeout=None)

    response = APIClient().get(HEALTH)

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"] == {"database": "ok", "cache": "ok", "broker": "ok", "beat": "silent"}
    assert body["beat"]["status"] == "silent"
    assert 181 <= body["beat"]["seconds_since_last_tick"] <= 183


def test_the_silence_allowed_is_a_setting(settings):
    settings.HEALTH_BEAT_MAX_SILENCE_SECONDS = 30
    cache.set(BEAT_LAST_TICK_KEY, time.time() - 31, timeout=None)

    assert APIClient().get(HEALTH).status_code == 503


def test_a_beat_never_seen_is_given_as_long_as_a_stopped_one():
    first = APIClient().get(HEALTH)
    assert first.status_code == 200
    assert first.json()["beat"]["last_tick"] is None
    assert first.json()["beat"]["seconds_since_last_tick"] is None

    # Health has been looking for three minutes and beat has never ticked.
    cache.set(BEAT_WATCH_STARTED_KEY, time.time() - 181, timeout=None)
    later = APIClient().get(HEALTH)

    assert later.status_code == 503
    assert later.json()["status"] == "degraded"
    assert later.json()["beat"]["status"] == "silent"


def test_no_worker_seen_is_reported_as_none_alive():
    workers = APIClient().get(HEALTH).json()["workers"]

    assert workers == {"alive": 0, "seconds_since_last_heartbeat": None, "alive_within_seconds": 45}


@pytest.mark.services
def test_a_running_worker_is_counted_alive(celery_worker, settings):
    # The worker's heartbeat reaches health through the shared cache: not the test settings' local memory.
    require("redis" in settings.CACHES["default"]["BACKEND"].lower(), "Redis as the shared cache (CACHE_URL)")
    deadline = time.monotonic() + 50  # three heartbeats' time, on a busy machine
    while (workers := APIClient().get(HEALTH).json()["workers"])["alive"] < 1 and time.monotonic() < deadline:
        time.sleep(0.2)  # the cache was emptied before this test: wait for the worker's next heartbeat

    assert workers["alive"] == 1
    assert workers["seconds_since_last_heartbeat"] <= 15
