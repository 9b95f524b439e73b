"""Settings for bench/storefront_read.py only: the production settings plus the baseline endpoint's URLs."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.storefront_urls"
