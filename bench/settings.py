"""Production's settings (config/settings.py), with the benches' baseline endpoints added to its URLs.

Kept only because a baseline must answer through the same Django stack and middleware as the
endpoint it is the floor of, and Django serves one URLconf: nothing else differs from production.
"""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.baseline_urls"
