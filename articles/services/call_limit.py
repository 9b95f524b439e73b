"""WeChat's "60 mass-send calls a minute", held across every worker through the shared cache.

Each call takes one of `limit` slots, a cache key that lives one period (plus a margin
for the time a request takes to reach WeChat): at most `limit` calls fit in any window of
that length, as WeChat counts them (the sandbox counts the calls of the last 60 seconds).
`cache.add` is atomic on Redis, the database cache and local memory alike, so two workers
never take the same slot. Costs at most `limit` cache writes a call, fine for 60 a minute.
"""

import time

from django.core.cache import cache

# The call reaches WeChat a little after the slot is taken; WeChat's minute starts then.
MARGIN_SECONDS = 1.0
POLL_SECONDS = 0.2


class CallSlotsBusy(Exception):
    """No slot came free within the wait: the caller should try again later."""


def call_slot_acquire(*, key: str, limit: int, period_seconds: float, wait_seconds: float) -> None:
    """Take a slot for one call named by `key` (e.g. an app id), waiting up to `wait_seconds` for one."""
    deadline = time.monotonic() + wait_seconds
    lifetime = period_seconds + MARGIN_SECONDS
    while True:
        for slot in range(limit):
            if cache.add(f"call-slot:{key}:{slot}", True, timeout=lifetime):
                return
        if time.monotonic() >= deadline:
            raise CallSlotsBusy(f"{limit} calls in the last {period_seconds:g}s for {key}")
        time.sleep(POLL_SECONDS)
