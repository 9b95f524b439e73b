"""Settings for bench/storefront_read.py only: the production settings plus the baseline endpoint's URLs.

BENCH_RESPONSE_CACHE=off swaps the caches for dummies, so every storefront read
queries and serializes: the bench measures the app both with and without it.
"""

import os

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.storefront_urls"

if os.environ.get("BENCH_RESPONSE_CACHE") == "off":
    CACHES = {alias: {"BACKEND": "django.core.cache.backends.dummy.DummyCache"} for alias in CACHES}  # noqa: F405
