"""Beat outlives its database: started while PostgreSQL is down, and across a PostgreSQL restart.

A real `celery beat` process (config.beat's scheduler, as settings name it) runs on a PostgreSQL
cluster and a Redis server of this test's own (tests/private_services.py), which the test stops and
starts. What beat sends lands on the private Redis broker, where it is counted; its ticks are read
through a real gunicorn's /api/v1/health.
"""

import time
import uuid

import pytest
import redis
import requests

from tests.api.servers import gunicorn_servers
from tests.private_services import (
    BEAT_READY_LINE,
    PrivateRedis,
    beat_process,
    database_from_template,
    manage_py_shell,
    private_postgres_migrated,
    product_environment,
)

pytestmark = pytest.mark.services

EVERY_SECOND_TASK = """
from django_celery_beat.models import IntervalSchedule, PeriodicTask
every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
PeriodicTask.objects.create(
    name="Purge tokens every second (test)", task="customers.tasks.purge_expired_customer_tokens",
    interval=every_second,
)
"""


@pytest.fixture(scope="module")
def postgres():
    cluster = private_postgres_migrated()
    yield cluster
    cluster.destroy()


@pytest.fixture
def private_redis():
    server = PrivateRedis()
    server.start()
    yield server
    server.destroy()


@pytest.fixture
def deployment(postgres, private_redis, tmp_path):
    queue = f"beat-{uuid.uuid4().hex[:8]}"
    environment = product_environment(
        database_url=database_from_template(postgres, f"beat_{uuid.uuid4().hex[:8]}"), redis=private_redis, queue=queue
    )
    manage_py_shell(environment, EVERY_SECOND_TASK)
    beat = beat_process(environment, tmp_path / "beat.log")
    yield environment, beat, redis.Redis(port=private_redis.port, db=0), queue
    beat.stop()


def _sent(broker: redis.Redis, queue: str) -> int:
    return broker.llen(queue)


def _wait_for_more_sent(broker, queue, than: int, *, timeout: float, beat) -> int:
    deadline = time.monotonic() + timeout
    while (sent := _sent(broker, queue)) <= than:
        assert beat.running(), f"beat stopped:\n{beat.log_text()[-3000:]}"
        assert time.monotonic() < deadline, f"beat sent nothing new in {timeout}s:\n{beat.log_text()[-3000:]}"
        time.sleep(0.2)
    return sent


def test_beat_started_while_the_database_is_down_begins_when_it_is_back(postgres, deployment):
    environment, beat, broker, queue = deployment
    postgres.stop()
    try:
        beat.start(ready_line=BEAT_READY_LINE)
        time.sleep(3)
        assert beat.running(), f"beat died without its database:\n{beat.log_text()[-3000:]}"
        assert _sent(broker, queue) == 0
    finally:
        postgres.start()

    _wait_for_more_sent(broker, queue, 0, timeout=30, beat=beat)


def test_beat_keeps_sending_across_a_database_restart_and_health_shows_its_ticks(postgres, deployment):
    environment, beat, broker, queue = deployment
    beat.start(ready_line=BEAT_READY_LINE)
    before = _wait_for_more_sent(broker, queue, 0, timeout=30, beat=beat)

    postgres.stop()
    time.sleep(4)
    postgres.start()
    after_restart = _sent(broker, queue)

    _wait_for_more_sent(broker, queue, after_restart + 2, timeout=30, beat=beat)
    assert after_restart >= before
    with gunicorn_servers(1, environment=environment, use_test_database=False) as (url,):
        health = requests.get(url + "/api/v1/health", timeout=10)
    assert health.status_code == 200, health.text
    assert health.json()["beat"]["status"] == "ok"
    assert health.json()["beat"]["seconds_since_last_tick"] <= 3


def test_the_demo_runs_beat_as_its_own_process_with_the_resilient_scheduler(settings):
    from pathlib import Path

    procfile = dict(
        line.split(": ", 1) for line in (Path(settings.BASE_DIR) / "Procfile.demo").read_text().splitlines()
    )

    assert procfile["beat"].startswith("celery -A config beat")
    assert "--beat" not in procfile["worker"].split() and "-B" not in procfile["worker"].split()
    assert settings.CELERY_BEAT_SCHEDULER == "config.beat:ResilientDatabaseScheduler"
