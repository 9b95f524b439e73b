"""Settings for the test suite: the embedded defaults, unless the environment names real services.

.ci/run sets DATABASE_URL (PostgreSQL), CACHE_URL (Redis) and CELERY_BROKER_URL (Redis);
without them tests run on SQLite, local memory and the filesystem broker.
"""

import os
import uuid

os.environ.setdefault("DJANGO_DEBUG", "true")
# One queue per test session, so a worker never picks up messages a killed run left behind.
os.environ.setdefault("CELERY_TEST_QUEUE", f"tests-{uuid.uuid4().hex[:12]}")

from config.settings import *  # noqa: F403
from config.settings import CELERY_BROKER_TRANSPORT_OPTIONS, DATABASES, VAR_DIR, env

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
    DATABASES["default"]["NAME"] = test_name

# Tests make WeChat busy on purpose: as many retries as a person gets, without their wait.
WECHAT_INTERACTIVE_BACKOFF_SECONDS = (0.01, 0.02)
# The test worker sees a task (or a shutdown) within 0.1 s, not the 1 s kombu's
# filesystem transport waits between polls (on Redis: between BRPOP timeouts).
CELERY_BROKER_TRANSPORT_OPTIONS = {**CELERY_BROKER_TRANSPORT_OPTIONS, "polling_interval": 0.1}
