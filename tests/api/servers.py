"""The app served by real gunicorn processes on the test database, for tests that need more than one process."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings

START_TIMEOUT_SECONDS = 60
OPTIONS = [
    *("--worker-class", "gthread", "--workers", "2", "--threads", "4"),
    "--preload",  # import the app once, then fork: workers start in a fraction of the time
    "--no-control-socket",  # one fixed path by default, which servers started at once would share
]


@contextlib.contextmanager
def gunicorn_servers(
    count: int, *, environment: dict[str, str], ready_statuses: tuple[int, ...] = (200,), use_test_database: bool = True
) -> Iterator[list[str]]:
    """`count` gunicorn masters, each with 2 worker processes of 4 threads; yields their base URLs.

    Each listens on a socket bound here (port 0, handed over as fd://), so no port can be
    taken between choosing and binding it. Ready once /api/v1/health answers one of
    `ready_statuses` (a server started with its database down answers 503); always stopped on
    the way out. Without `use_test_database`, DATABASE_URL in `environment` is used as it is.
    """
    servers: list[tuple[subprocess.Popen, Path]] = []
    urls = []
    try:
        for number in range(count):
            listener = socket.create_server(("127.0.0.1", 0))
            log_path = Path(settings.VAR_DIR) / f"test-gunicorn-{number}.log"
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with listener, open(log_path, "w") as log:
                process = subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", f"fd://{listener.fileno()}", *OPTIONS],
                    cwd=settings.BASE_DIR,
                    env={
                        **os.environ,
                        "DJANGO_SETTINGS_MODULE": "config.settings_test",
                        **({"USE_TEST_DATABASE": "1"} if use_test_database else {}),
                        # No beat runs beside these servers, and the watch for it that health starts is kept
                        # without expiry in the shared test Redis: an earlier run's must not make them degraded.
                        "HEALTH_BEAT_MAX_SILENCE_SECONDS": str(10 * 365 * 24 * 3600),
                        **environment,
                    },
                    pass_fds=[listener.fileno()],
                    # Its own process group, stopped whole: a master killed alone would leave its workers behind.
                    start_new_session=True,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                servers.append((process, log_path))
                urls.append(f"http://127.0.0.1:{listener.getsockname()[1]}")
        for url, (process, log_path) in zip(urls, servers, strict=True):
            _wait_until_healthy(url, process, log_path, ready_statuses)
        yield urls
    finally:
        for process, _ in servers:
            _signal_group(process, signal.SIGINT)  # gunicorn's quick shutdown; SIGTERM waits for keep-alive clients
        for process, _ in servers:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
            _signal_group(process, signal.SIGKILL)  # any worker still there, e.g. stuck on a database that is down


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal_number)


def _wait_until_healthy(url: str, process: subprocess.Popen, log_path: Path, ready_statuses: tuple[int, ...]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            healthy = requests.get(f"{url}/api/v1/health", timeout=5).status_code in ready_statuses
        except requests.RequestException:
            healthy = False  # workers still booting
        if healthy:
            return
        time.sleep(0.1)
    pytest.fail(f"gunicorn at {url} did not become healthy:\n{log_path.read_text()[-3000:]}", pytrace=False)
