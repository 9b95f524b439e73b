"""The shared access token: one fetch however many threads and processes ask at once."""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable

import environ
import pytest
from django.conf import settings
from django.core.management import call_command

from tests.real_services import require_redis
from wechat.clients import official_account_client

TOKEN_PATHS = {"stable": "/cgi-bin/stable_token", "classic": "/cgi-bin/token"}


def _get_tokens_in_threads(count: int, *, on_start: Callable[[], None] = lambda: None) -> list[str]:
    """`count` threads ask for the token at the same instant, just after `on_start` has run."""
    barrier = threading.Barrier(count, action=on_start)
    tokens: list[str] = []
    errors: list[BaseException] = []

    def ask():
        try:
            client = official_account_client()
            barrier.wait()
            tokens.append(client.token_store.get())
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
import json, sys, threading
import django
django.setup()
from wechat.clients import official_account_client
go = threading.Event()
tokens = []
def ask(client):
    go.wait()
    tokens.append(client.token_store.get())
threads = [threading.Thread(target=ask, args=(official_account_client(),)) for _ in range(8)]
[t.start() for t in threads]
print("ready", flush=True)
sys.stdin.readline()
go.set()
[t.join() for t in threads]
print(json.dumps(tokens), flush=True)
"""


def _race_another_process(sandbox, settings, *, cache_url: str, endpoint: str, environment: dict) -> None:
    """Eight threads here and eight in a second process ask for the token at the same instant.

    The child says "ready" once Django is up and its threads wait; the last of our threads
    to reach the start line tells it "go", and all sixteen ask at once.
    """
    from django.core.cache import cache

    # The very settings the child derives from CACHE_URL in config.settings_test.
    settings.CACHES = {"default": {**environ.Env.cache_url_config(cache_url), "KEY_PREFIX": "test"}}
    settings.WECHAT_TOKEN_ENDPOINT = endpoint
    cache.clear()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD_SCRIPT],
        env={
            **os.environ,
            **environment,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "CACHE_URL": cache_url,
            "WECHAT_API_BASE_URL": settings.WECHAT_API_BASE_URL,
            "WECHAT_TOKEN_ENDPOINT": endpoint,
        },
        cwd=settings.BASE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def go():
        child.stdin.write("go\n")
        child.stdin.flush()

    try:
        ready = child.stdout.readline()
        assert ready == "ready\n", child.communicate(timeout=30)[1]
        our_tokens = _get_tokens_in_threads(8, on_start=go)
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
