"""Rate limits counted atomically in the shared cache, so they hold across processes and hosts.

DRF's own throttles read a list of timestamps from the cache, append and write it back:
concurrent requests in different gunicorn workers each read the same list and all pass.
Here each request is one atomic increment of a counter (Redis INCR through django-redis;
add() is SET NX), so the limit is exact however many processes share the cache. On Redis the
window's commands run as one Lua script, one round trip.

The window opens at a client's first request and lasts one period: N requests per
period from then, a fresh count after. `Retry-After` says when the window closes.
"""

import hashlib
import math
import time

from django.core.cache import cache, caches
from django_redis.cache import RedisCache
from redis.exceptions import NoScriptError
from rest_framework.throttling import ScopedRateThrottle


def count_hit(key: str, period: int) -> tuple[int, float]:
    """Count one request in the window `key`; returns the count so far and when the window closes."""
    if isinstance(shared := caches["default"], RedisCache):
        return _count_hit_redis(shared, key, period)
    now = time.time()
    # Neither add() overwrites an open window: the first request of a window sets both.
    cache.add(f"{key}:closes", now + period, timeout=period)
    cache.add(key, 0, timeout=period)
    try:
        count = cache.incr(key)
    except ValueError:  # the window closed between add() and incr(): this request opens the next
        cache.add(key, 0, timeout=period)
        count = cache.incr(key)
    closes_at = cache.get(f"{key}:closes") or now + period
    return count, closes_at


# count_hit's four commands as one script: one round trip, atomic, and one command and one answer
# for redis-py to pack and parse where a MULTI/EXEC pipeline is six of each (docs/benchmarks.md).
# KEYS: the count, the window's end; ARGV: the end in integer microseconds, the period in seconds.
_WINDOW_SCRIPT = """
redis.call('SET', KEYS[2], ARGV[1], 'NX', 'EX', ARGV[2])
redis.call('SET', KEYS[1], 0, 'NX', 'EX', ARGV[2])
return {redis.call('INCR', KEYS[1]), redis.call('GET', KEYS[2])}
"""
_WINDOW_SCRIPT_SHA1 = hashlib.sha1(_WINDOW_SCRIPT.encode()).hexdigest()


def _count_hit_redis(shared: RedisCache, key: str, period: int) -> tuple[int, float]:
    """count_hit's commands in one Lua script, run by its digest (EVAL, which keeps it, when Redis does not have it).

    The keys are the cache's own (its prefix and version); the window's end is kept as integer
    microseconds, which django-redis stores as it is and so reads back without unpickling.
    """
    now = time.time()
    client = shared.client.get_client(write=True)
    keys = (shared.make_key(key), shared.make_key(f"{key}:closes"))
    arguments = (len(keys), *keys, math.ceil((now + period) * 1_000_000), period)
    try:
        count, closes_us = client.evalsha(_WINDOW_SCRIPT_SHA1, *arguments)
    except NoScriptError:  # a restarted or flushed Redis: the first window after it sends the script
        count, closes_us = client.eval(_WINDOW_SCRIPT, *arguments)
    try:
        return count, int(closes_us) / 1_000_000
    except (TypeError, ValueError):  # a window opened by a version that pickled a float
        return count, now + period


class AtomicScopedRateThrottle(ScopedRateThrottle):
    """ScopedRateThrottle's rates (`throttle_scope`, DEFAULT_THROTTLE_RATES) and client IP
    (X-Forwarded-For read past NUM_PROXIES), on an atomic counter."""

    cache_format = "throttle:%(scope)s:%(ident)s"

    def allow_request(self, request, view):
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return True
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        count, self.closes_at = count_hit(key, self.duration)
        return count <= self.num_requests

    def wait(self) -> int:
        return max(1, math.ceil(self.closes_at - time.time()))
