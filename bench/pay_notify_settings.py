"""Settings for bench/pay_notify.py only: the production settings plus the baseline endpoint's URLs."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.pay_notify_urls"
