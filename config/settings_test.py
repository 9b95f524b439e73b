"""Settings for the test suite: the embedded defaults, unless the environment names real services.

.ci/run sets DATABASE_URL (PostgreSQL), CACHE_URL (Redis) and CELERY_BROKER_URL (Redis);
without them tests run on SQLite, local memory and the filesystem broker.
"""

import os
import uuid

os.environ.setdefault("DJANGO_DEBUG", "true")


def _xdist_worker_isolated(worker: str) -> None:
    """Under pytest-xdist (`make test` runs two workers) each worker is a test session of its own.

    Its own var/ folder (logs, media, SQLite's test database, the filesystem broker) and its own Redis
    databases: the suite empties its cache before and after every test, which must not empty another
    worker's. Worker n's databases are 8 × n above the configured ones, modulo Redis's default 16
    (.ci/run's 2 and 4 become 10 and 12 for the second worker). Set in the environment, so that every
    process the worker starts (Celery workers, gunicorn, benches) reads the same.
    """
    from pathlib import Path
    from urllib.parse import urlparse

    if os.environ.get("TEST_XDIST_ISOLATED") == worker:
        return  # a process the worker started: its environment is already the worker's
    os.environ["TEST_XDIST_ISOLATED"] = worker
    number = int(worker.removeprefix("gw"))
    base_dir = Path(__file__).resolve().parent.parent
    os.environ.setdefault("DJANGO_VAR_DIR", str(base_dir / "var" / f"test-{worker}"))
    # Not the queue the controlling process named before it started the workers: one each.
    os.environ["CELERY_TEST_QUEUE"] = f"tests-{uuid.uuid4().hex[:12]}-{worker}"
    for name in ("CACHE_URL", "TEST_REDIS_URL"):
        parsed = urlparse(os.environ.get(name, ""))
        if parsed.scheme.startswith("redis") and parsed.path.strip("/").isdigit():
            database = (int(parsed.path.strip("/")) + 8 * number) % 16
            os.environ[name] = parsed._replace(path=f"/{database}").geturl()


if os.environ.get("PYTEST_XDIST_WORKER"):
    _xdist_worker_isolated(os.environ["PYTEST_XDIST_WORKER"])
# One queue per test session, so a worker never picks up messages a killed run left behind.
os.environ.setdefault("CELERY_TEST_QUEUE", f"tests-{uuid.uuid4().hex[:12]}")

from config.settings import *  # noqa: E402, F403 - after the worker's environment is set
from config.settings import CELERY_BROKER_TRANSPORT_OPTIONS, DATABASES, VAR_DIR, env  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {**CACHES, "default": env.cache("CACHE_URL", default="locmemcache://")}  # noqa: F405
CACHES["default"]["KEY_PREFIX"] = "test"
CELERY_TASK_DEFAULT_QUEUE = os.environ["CELERY_TEST_QUEUE"]
# This run's own mass-send queue too; the test worker consumes both.
MASS_SEND_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-mass_send"
# Every payment in every test queues the buyer's subscribe message: those go to a queue of their own,
# which the test worker consumes only for a test that asks (the subscribe_message_worker fixture), so
# no message task runs against another test's rows while that test is truncating them.
SUBSCRIBE_MESSAGE_QUEUE = f"{CELERY_TASK_DEFAULT_QUEUE}-subscribe_messages"
CELERY_TASK_ROUTES = {
    **CELERY_TASK_ROUTES,  # noqa: F405
    "articles.tasks.*": {"queue": MASS_SEND_QUEUE},
    "subscribe_messages.tasks.*": {"queue": SUBSCRIBE_MESSAGE_QUEUE},
}
# Retries of a busy WeChat come quickly in tests.
PUSH_SEND_RETRY_BASE_SECONDS = env.float("PUSH_SEND_RETRY_BASE_SECONDS", default=0.2)
PUSH_SEND_RETRY_MAX_SECONDS = 1.0
MEDIA_ROOT = VAR_DIR / "test-media"
# Servers a test starts may ask for a real limit through the environment.
_login_rate = env.str("API_LOGIN_THROTTLE_RATE", default="1000/min")
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"login": _login_rate}}  # noqa: F405

# A Celery worker started by a test must open the test database, not the development one.
if os.environ.get("USE_TEST_DATABASE"):
    test_name = DATABASES["default"].get("TEST", {}).get("NAME") or f"test_{DATABASES['default']['NAME']}"
    if os.environ.get("PYTEST_XDIST_WORKER"):
        test_name = f"{test_name}_{os.environ['PYTEST_XDIST_WORKER']}"  # as pytest-django names each worker's
    DATABASES["default"]["NAME"] = test_name

# Tests make WeChat busy on purpose: as many retries as a person gets, without their wait.
WECHAT_INTERACTIVE_BACKOFF_SECONDS = (0.01, 0.02)
# The test worker sees a task (or a shutdown) within 0.1 s, not the 1 s kombu's
# filesystem transport waits between polls (on Redis: between BRPOP timeouts).
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "polling_interval": 0.1}
