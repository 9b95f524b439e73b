"""Schemathesis over the whole OpenAPI schema, against gunicorn on the test database, as a logged-in customer.

Slower and broader than a unit test, so `make test` leaves it out (pytest.ini deselects the
`schemathesis` marker) and .ci/run runs it as its own step: `pytest -m schemathesis`.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from django.conf import settings

from tests.api.servers import gunicorn_servers

RUN_TIMEOUT_SECONDS = 150
OPTIONS = {
    "--checks": "all",
    # Not these two: a schema-valid login code is still refused unless wx.login() issued it, which
    # no schema can say; and DRF coerces on purpose what a schema calls invalid ("true" or "1"
    # for a boolean, an empty filter as no filter).
    "--exclude-checks": "positive_data_acceptance,negative_data_rejection",
    # Fixed, so a run is repeatable and a finding reproduces with the same command.
    "--seed": "20261123",
    "--max-examples": "50",
    "--workers": "1",
    "--generation-database": "none",
    "--request-timeout": "20",
}


# Logging out revokes the run's only token: every operation fuzzed after it would answer 401 and test
# nothing past authentication. So it is left out of the main run and checked in a run of its own,
# with a token of its own.
LOGOUT_PATH = "/api/v1/auth/logout"


def _login(url: str, sandbox) -> str:
    login = requests.post(f"{url}/api/v1/auth/login", json={"code": sandbox.mint_login_code()["code"]}, timeout=30)
    assert login.status_code == 200, login.text
    return login.json()["token"]


def _schemathesis(url: str, token: str, tmp_path: Path, report: Path, *selection: str) -> subprocess.CompletedProcess:
    run = subprocess.run(
        [
            str(Path(sys.executable).parent / "schemathesis"),
            "run",
            f"{url}/api/schema/",
            *(part for option in OPTIONS.items() for part in option),
            *selection,
            "--header",
            f"Authorization: Bearer {token}",
            "--report=junit",
            f"--report-junit-path={report}",
            "--no-color",
        ],
        cwd=tmp_path,  # where schemathesis keeps its cache of past failures: not in the repository
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
    )
    assert run.returncode == 0, f"schemathesis found problems:\n{run.stdout[-20000:]}\n{run.stderr[-3000:]}"
    return run


def _counts(run: subprocess.CompletedProcess) -> tuple[int, int, int]:
    """(selected, total, tested) operations, as schemathesis reports them."""
    operations = re.search(r"Operations:\s+(\d+) selected / (\d+) total", run.stdout)
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert operations and tested, run.stdout
    return int(operations.group(1)), int(operations.group(2)), int(tested.group(1))


@pytest.mark.schemathesis
@pytest.mark.timeout(2 * RUN_TIMEOUT_SECONDS + 90)  # the two runs, plus starting and stopping gunicorn
@pytest.mark.django_db(transaction=True)
def test_the_whole_schema_holds_against_a_real_server(sandbox, sandbox_server, tmp_path):
    report = Path(settings.VAR_DIR) / "schemathesis-junit.xml"
    with gunicorn_servers(1, environment={"WECHAT_API_BASE_URL": sandbox_server.url}) as [url]:
        token = _login(url, sandbox)
        everything_else = _schemathesis(url, token, tmp_path, report, "--exclude-path", LOGOUT_PATH)
        # Still logged in at the end: nothing in the run revoked the token it tested with.
        still_logged_in = requests.get(f"{url}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        logout_report = report.with_name("schemathesis-logout-junit.xml")
        logout = _schemathesis(url, _login(url, sandbox), tmp_path, logout_report, "--include-path", LOGOUT_PATH)

    selected, total, tested = _counts(everything_else)
    assert tested == selected == total - 1 >= 3  # every operation but logout, not a silent empty run
    assert still_logged_in.status_code == 200, still_logged_in.text
    assert _counts(logout)[::2] == (1, 1)  # logout, on its own
