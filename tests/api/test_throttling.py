"""The login limit in one process: who counts as one client, and when a window closes."""

import time

import pytest
from django.core.cache import cache, caches
from django_redis.cache import RedisCache
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from config.throttling import count_hit
from tests.caching import cache_round_trips

pytestmark = pytest.mark.django_db
LOGIN = "/api/v1/auth/login"


@pytest.fixture
def two_logins_a_minute(sandbox, settings, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "2/min"})
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}


def _statuses(forwarded_for: str, count: int, remote_addr: str = "10.0.0.1") -> list[int]:
    client = APIClient(REMOTE_ADDR=remote_addr, HTTP_X_FORWARDED_FOR=forwarded_for)
    return [client.post(LOGIN, {"code": "unknown"}, format="json").status_code for _ in range(count)]


def test_behind_one_proxy_each_client_address_has_its_own_limit(two_logins_a_minute):
    assert _statuses("198.51.100.1", 3) == [400, 400, 429]
    assert _statuses("198.51.100.2", 2) == [400, 400]


def test_a_client_cannot_escape_the_limit_by_forging_forwarded_for(two_logins_a_minute):
    # The proxy appends the address it saw; whatever the client put before it is ignored.
    assert _statuses("198.51.100.1", 2) == [400, 400]
    assert _statuses("203.0.113.66, 198.51.100.1", 1) == [429]


def test_without_proxies_forwarded_for_is_ignored(two_logins_a_minute, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 0}

    assert _statuses("198.51.100.1", 2) + _statuses("198.51.100.2", 1) == [400, 400, 429]
    assert _statuses("198.51.100.3", 1, remote_addr="10.0.0.2") == [400]


def test_a_window_counts_from_its_first_request_and_a_closed_one_starts_afresh():
    before = time.time()
    counts = [count_hit("throttle:test:client", 60) for _ in range(3)]

    assert [count for count, _ in counts] == [1, 2, 3]
    assert {closes_at for _, closes_at in counts} == {counts[0][1]}
    assert before + 60 <= counts[0][1] <= time.time() + 60

    # What the cache does when the window's timeout passes.
    cache.delete_many(["throttle:test:client", "throttle:test:client:closes"])
    count, closes_at = count_hit("throttle:test:client", 60)
    assert count == 1
    assert closes_at >= counts[0][1]


def _redis_cache():
    """The shared cache's Redis client, or skip: the window's script is Redis's (CI and .ci/run use it)."""
    if not isinstance(caches["default"], RedisCache):
        pytest.skip("the shared cache is not Redis here")
    return caches["default"].client.get_client(write=True)


def test_on_redis_a_window_is_counted_in_one_round_trip():
    _redis_cache()
    count_hit("throttle:test:warm", 60)  # Redis has the script from here on

    with cache_round_trips() as sent:
        counts = [count_hit("throttle:test:client", 60)[0] for _ in range(3)]

    assert counts == [1, 2, 3]
    assert sent == ["EVALSHA"] * 3


def test_a_redis_that_forgot_the_script_is_sent_it_again_and_the_count_goes_on():
    redis = _redis_cache()
    assert count_hit("throttle:test:client", 60)[0] == 1
    redis.script_flush()  # as after Redis restarts

    with cache_round_trips() as sent:
        count, closes_at = count_hit("throttle:test:client", 60)

    assert count == 2
    assert sent == ["EVALSHA", "EVAL"]
    assert count_hit("throttle:test:client", 60) == (3, closes_at)


def test_a_window_opened_by_the_version_that_pickled_its_end_still_counts():
    _redis_cache()
    before = time.time()
    cache.set("throttle:test:client:closes", before + 30.5, timeout=60)  # as that version stored it

    count, closes_at = count_hit("throttle:test:client", 60)

    assert count == 1
    assert before + 60 <= closes_at <= time.time() + 60
