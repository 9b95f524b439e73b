"""WeChat's "60 mass-send calls a minute", held across every worker through the shared cache.

The period is cut into SUBWINDOWS short windows, each allowing limit // (SUBWINDOWS + 2)
calls. WeChat counts the calls arriving in any span of one period; they took their slots
in a span one period plus their travel time long, which overlaps at most SUBWINDOWS + 2
windows while the travel takes less than a window. So no span holds more than `limit`
calls. For 60 a minute: 5 calls per 6 seconds, 50 a minute sustained. A call takes a slot of its window with
`cache.add` on a key no earlier window used, an insert that Redis, the database cache and
local memory all make atomic (the database cache's add is not atomic when it overwrites an
expired key, which fresh keys never meet).
"""

import time

from django.core.cache import cache

SUBWINDOWS = 10


class CallSlotsBusy(Exception):
    """No slot came free within the wait: the caller should try again later."""


def call_slot_acquire(*, key: str, limit: int, period_seconds: float, wait_seconds: float) -> None:
    """Take a slot for one call named by `key` (e.g. an app id), waiting up to `wait_seconds` for one."""
    window_seconds = period_seconds / SUBWINDOWS
    per_window = limit // (SUBWINDOWS + 2)
    if per_window < 1:
        raise ValueError(f"a limit under {SUBWINDOWS + 2} calls a period cannot be shared this way")
    deadline = time.time() + wait_seconds
    while True:
        now = time.time()
        window = int(now // window_seconds)
        for slot in range(per_window):
            if cache.add(f"call-slot:{key}:{window}:{slot}", True, timeout=period_seconds * 2):
                return
        next_window_at = (window + 1) * window_seconds
        if next_window_at > deadline:
            raise CallSlotsBusy(f"{limit} calls a {period_seconds:g}s for {key} taken")
        time.sleep(next_window_at - now)
