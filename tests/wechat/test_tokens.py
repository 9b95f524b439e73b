"""The shared access token: one fetch however many threads and processes ask at once."""

import json
import os
import subprocess
import sys
import threading
import time

import environ
import pytest
from django.conf import settings
from django.core.management import call_command

from tests.real_services import require_redis
from wechat.clients import official_account_client

TOKEN_PATHS = {"stable": "/cgi-bin/stable_token", "classic": "/cgi-bin/token"}


def _get_tokens_in_threads(count: int, start_at: float | None = None) -> list[str]:
    barrier = threading.Barrier(count)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def ask():
        try:
            barrier.wait()
            if start_at:
                time.sleep(max(0.0, start_at - time.time()))
            tokens.append(official_account_client().token_store.get())
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return tokens


@pytest.mark.parametrize("endpoint", ["stable", "classic"])
def test_many_threads_asking_at_once_fetch_one_token(sandbox, settings, endpoint):
    settings.WECHAT_TOKEN_ENDPOINT = endpoint

    tokens = _get_tokens_in_threads(16)

    assert len(tokens) == 16
    assert len(set(tokens)) == 1
    assert len(sandbox.received(TOKEN_PATHS[endpoint])) == 1


def test_a_token_is_reused_by_later_clients(sandbox):
    first = official_account_client().token_store.get()
    second = official_account_client().token_store.get()

    assert first == second
    assert len(sandbox.received("/cgi-bin/stable_token")) == 1


CHILD_SCRIPT = """
import json, os, sys, threading, time
import django
django.setup()
from wechat.clients import official_account_client
start_at = float(sys.argv[1])
tokens = []
def ask():
    time.sleep(max(0.0, start_at - time.time()))
    tokens.append(official_account_client().token_store.get())
threads = [threading.Thread(target=ask) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(json.dumps(tokens))
"""


def _race_another_process(sandbox, settings, *, cache_url: str, endpoint: str, environment: dict) -> None:
    """Eight threads here and eight in a second process ask for the token at the same instant."""
    from django.core.cache import cache

    # The very settings the child derives from CACHE_URL in config.settings_test.
    settings.CACHES = {"default": {**environ.Env.cache_url_config(cache_url), "KEY_PREFIX": "test"}}
    settings.WECHAT_TOKEN_ENDPOINT = endpoint
    cache.clear()
    start_at = time.time() + 3  # both processes past Django's start-up, then all threads at once
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_SCRIPT, str(start_at)],
        env={
            **os.environ,
            **environment,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "CACHE_URL": cache_url,
            "WECHAT_API_BASE_URL": settings.WECHAT_API_BASE_URL,
            "WECHAT_TOKEN_ENDPOINT": endpoint,
        },
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        our_tokens = _get_tokens_in_threads(8, start_at=start_at)
        out, err = child.communicate(timeout=60)
    finally:
        child.kill()
        cache.clear()
    assert child.returncode == 0, err
    their_tokens = json.loads(out.strip().splitlines()[-1])

    assert len(our_tokens) == len(their_tokens) == 8
    assert set(our_tokens) == set(their_tokens) and len(set(our_tokens)) == 1
    assert len(sandbox.received(TOKEN_PATHS[endpoint])) == 1


@pytest.mark.services
@pytest.mark.parametrize("endpoint", ["stable", "classic"])
def test_two_processes_sharing_redis_fetch_one_token(sandbox, settings, endpoint):
    _race_another_process(sandbox, settings, cache_url=require_redis(), endpoint=endpoint, environment={})


@pytest.mark.django_db(transaction=True)
def test_two_processes_sharing_the_database_cache_fetch_one_token(sandbox, settings):
    """The embedded default (`make demo`): web, worker and beat share the token through the database cache."""
    settings.CACHES = {"default": environ.Env.cache_url_config("dbcache://django_cache")}
    call_command("createcachetable")
    _race_another_process(
        sandbox,
        settings,
        cache_url="dbcache://django_cache",
        endpoint="classic",  # the endpoint where a second fetch would retire the first token
        environment={"USE_TEST_DATABASE": "1"},
    )


def test_token_is_fetched_with_the_configured_credentials_and_base_url(sandbox):
    official_account_client().token_store.get()

    request = sandbox.received("/cgi-bin/stable_token")[0]
    body = json.loads(request["body"])
    assert body["appid"] == settings.WECHAT_OFFICIAL_ACCOUNT_APPID
    assert body["grant_type"] == "client_credential"
    assert body["force_refresh"] is False
