import pytest
from django.core.cache import cache

from wechat.sandbox.client import SandboxClient
from wechat.sandbox.server import sandbox_apps_from_settings, start_in_thread


@pytest.fixture(autouse=True)
def _empty_cache():
    """Tokens, locks and throttle counters must not leak from one test to the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def sandbox_server():
    """One WeChat sandbox on a free loopback port for the whole run, reached over real HTTP."""
    running = start_in_thread(apps=sandbox_apps_from_settings())
    yield running
    running.stop()


@pytest.fixture
def sandbox(sandbox_server, settings) -> SandboxClient:
    """The sandbox with fresh state, and our settings pointed at it."""
    settings.WECHAT_API_BASE_URL = sandbox_server.url
    settings.WECHAT_PAY_API_BASE_URL = sandbox_server.url
    client = SandboxClient(sandbox_server.url)
    client.reset()
    return client


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real `celery worker` process on this run's broker and queue, using the test database."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    from django.conf import settings

    from config import celery_app

    log_path = Path(settings.VAR_DIR) / "test-celery-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    node_name = f"tests-{os.getpid()}@{socket.gethostname()}"
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "USE_TEST_DATABASE": "1"}
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--queues",
                settings.CELERY_TASK_DEFAULT_QUEUE,
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--hostname",
                node_name,
            ],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            pytest.fail(f"the Celery worker did not start:\n{log_path.read_text()[-3000:]}", pytrace=False)
        time.sleep(0.05)
    yield worker
    # A SIGTERM'd worker on a polling transport (the filesystem one) finishes two more
    # 2-second polls before it stops; the shutdown command stops it on arrival.
    celery_app.control.shutdown(destination=[node_name])
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.terminate()
        worker.wait(timeout=20)
