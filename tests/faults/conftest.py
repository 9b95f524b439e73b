"""The fault suite's services and its figures, printed at the end of the run (and kept in docs/faults.md)."""

import json
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from tests.faults.deployment import Deployment
from tests.private_services import PrivateRedis, private_postgres_migrated

FIGURES: list[dict] = []


@pytest.fixture(scope="session")
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
def deployment(postgres, private_redis, sandbox_server, request):
    if not postgres.running():
        postgres.start()  # a failed test may have left it stopped
    # The processes' logs stay for reading after the run: var/faults/<test>/{worker,beat}.log.
    folder = Path(settings.VAR_DIR) / "faults" / request.node.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    running = Deployment(postgres=postgres, redis=private_redis, sandbox_server=sandbox_server, folder=folder)
    yield running
    running.stop()


@pytest.fixture
def figures():
    """A test's figures, printed in the run's summary."""

    def record(scenario: str, **values) -> None:
        FIGURES.append({"scenario": scenario, **values})

    return record


def pytest_terminal_summary(terminalreporter):
    if not FIGURES:
        return
    terminalreporter.section("fault suite figures")
    for entry in FIGURES:
        terminalreporter.line(json.dumps(entry, ensure_ascii=False, sort_keys=False))
