"""Login cost against its floor, and a cached access token against a fetched one, measured in one run.

    .venv/bin/python bench/login.py [--logins 200]

Baselines, measured here and now on the same machine and sandbox:
- login: the bare `sns/jscode2session` round trip to the sandbox, which every login
  must make; the ratio is what our API adds on top (validation, DB writes, token).
- token: fetching a token from the sandbox; the ratio is what the shared cache saves.
Runs on a throwaway SQLite database under a temporary folder.
"""

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
os.environ["DJANGO_VAR_DIR"] = tempfile.mkdtemp(prefix="bench-login-")

import django

django.setup()

import requests  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from wechat.clients import official_account_client  # noqa: E402
from wechat.tokens import TokenSource  # noqa: E402
from wechat_sandbox.client import SandboxClient  # noqa: E402
from wechat_sandbox.server import sandbox_apps_from_settings, start_in_thread  # noqa: E402


def per_call_ms(durations: list[float]) -> float:
    return statistics.median(durations) * 1000


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logins", type=int, default=200)
    count = parser.parse_args().logins

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per sandbox request otherwise
    logging.getLogger("wechat").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)
    running = start_in_thread(apps=sandbox_apps_from_settings())
    sandbox = SandboxClient(running.url)
    with override_settings(WECHAT_API_BASE_URL=running.url, WECHAT_PAY_API_BASE_URL=running.url):
        codes = [sandbox.mint_login_code()["code"] for _ in range(2 * count)]
        http = requests.Session()
        params = {
            "appid": settings.WECHAT_MINI_PROGRAM_APPID,
            "secret": settings.WECHAT_MINI_PROGRAM_SECRET,
            "grant_type": "authorization_code",
        }
        bare = [
            timed(
                lambda code=code: http.get(
                    f"{running.url}sns/jscode2session", params={**params, "js_code": code}, timeout=5
                ).raise_for_status()
            )
            for code in codes[:count]
        ]

        api = APIClient()

        def login(code: str) -> None:
            response = api.post("/api/v1/auth/login", {"code": code}, format="json")
            assert response.status_code == 200, response.content

        logins = [timed(lambda code=code: login(code)) for code in codes[count:]]

        source = TokenSource(
            appid=settings.WECHAT_OFFICIAL_ACCOUNT_APPID,
            secret=settings.WECHAT_OFFICIAL_ACCOUNT_SECRET,
            api_base_url=running.url,
            endpoint="stable",
            timeout=5,
        )
        fetches = [timed(source.fetch) for _ in range(count)]
        store = official_account_client().token_store
        store.get()
        cached = [timed(store.get) for _ in range(count * 10)]
    running.stop()

    print(f"login through our API      {per_call_ms(logins):8.3f} ms  (median of {count})")
    print(f"bare jscode2session call   {per_call_ms(bare):8.3f} ms  (baseline)")
    print(f"login / baseline           {per_call_ms(logins) / per_call_ms(bare):8.2f} x")
    print(f"cached access token        {per_call_ms(cached):8.3f} ms  (median of {count * 10})")
    print(f"token fetched from WeChat  {per_call_ms(fetches):8.3f} ms  (baseline)")
    print(f"cached / fetched           {per_call_ms(cached) / per_call_ms(fetches):8.3f} x")


if __name__ == "__main__":
    main()
