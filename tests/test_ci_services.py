"""Under CI=true the suite must have run on the real services, not the embedded defaults."""

import pytest
from django.conf import settings
from django.db import connection

from tests.real_services import IN_CI

pytestmark = pytest.mark.skipif(not IN_CI, reason="checks CI's own environment")


def test_ci_uses_postgresql():
    assert connection.vendor == "postgresql"


def test_ci_uses_redis_for_the_cache_and_broker():
    assert settings.CACHES["default"]["BACKEND"] == "django_redis.cache.RedisCache"
    assert settings.CELERY_BROKER_URL.startswith(("redis://", "amqp://"))
