"""Heartbeats of the processes that do scheduled and queued work, read by /api/v1/health.

Beat records each tick it completes and every worker records itself every few seconds, in the
cache all processes share (Redis in production), so health on any web host sees them. A beat
that stopped ticking is otherwise invisible: pushes, expiries and refunds silently wait.
"""

import logging
import time

from django.core.cache import cache

logger = logging.getLogger(__name__)

BEAT_LAST_TICK_KEY = "liveness:beat:last_tick"
# When health first looked and found no tick: a beat never started is as silent as a dead one.
BEAT_WATCH_STARTED_KEY = "liveness:beat:watch_started"
WORKERS_KEY = "liveness:workers"
WORKER_HEARTBEAT_SECONDS = 15
# A worker missing three heartbeats is counted as gone; after an hour it is forgotten.
WORKER_ALIVE_WITHIN_SECONDS = 3 * WORKER_HEARTBEAT_SECONDS
WORKER_FORGOTTEN_AFTER_SECONDS = 3600
_NO_EXPIRY = None


def beat_tick_record() -> None:
    try:
        cache.set(BEAT_LAST_TICK_KEY, time.time(), timeout=_NO_EXPIRY)
    except Exception as error:  # noqa: BLE001 - a cache outage must not stop beat; health reports the cache
        logger.warning("beat could not record its tick: %s", type(error).__name__)


def beat_last_tick() -> float | None:
    return cache.get(BEAT_LAST_TICK_KEY)


def beat_watch_started() -> float:
    """Since when health has been watching for beat (the first look without a tick, kept from then)."""
    cache.add(BEAT_WATCH_STARTED_KEY, time.time(), timeout=_NO_EXPIRY)
    return cache.get(BEAT_WATCH_STARTED_KEY) or time.time()


def worker_heartbeat_record(hostname: str) -> None:
    """Workers rewrite one shared map; two writing at once may drop one entry for a heartbeat, no more."""
    try:
        now = time.time()
        seen = {
            name: at for name, at in (cache.get(WORKERS_KEY) or {}).items() if now - at < WORKER_FORGOTTEN_AFTER_SECONDS
        }
        seen[hostname] = now
        cache.set(WORKERS_KEY, seen, timeout=_NO_EXPIRY)
    except Exception as error:  # noqa: BLE001 - a cache outage must not stop the worker; health reports the cache
        logger.warning("worker %s could not record its heartbeat: %s", hostname, type(error).__name__)


def worker_heartbeat_forget(hostname: str) -> None:
    """A worker shutting down cleanly leaves at once rather than after its heartbeats run out."""
    try:
        seen = cache.get(WORKERS_KEY) or {}
        seen.pop(hostname, None)
        cache.set(WORKERS_KEY, seen, timeout=_NO_EXPIRY)
    except Exception as error:  # noqa: BLE001 - as above
        logger.warning("worker %s could not remove its heartbeat: %s", hostname, type(error).__name__)


def workers_last_seen() -> dict[str, float]:
    return cache.get(WORKERS_KEY) or {}
