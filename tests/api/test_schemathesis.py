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


@pytest.mark.schemathesis
@pytest.mark.timeout(RUN_TIMEOUT_SECONDS + 90)  # the run, plus starting and stopping gunicorn
@pytest.mark.django_db(transaction=True)
def test_the_whole_schema_holds_against_a_real_server(sandbox, sandbox_server, tmp_path):
    report = Path(settings.VAR_DIR) / "schemathesis-junit.xml"
    with gunicorn_servers(1, environment={"WECHAT_API_BASE_URL": sandbox_server.url}) as [url]:
        login = requests.post(f"{url}/api/v1/auth/login", json={"code": sandbox.mint_login_code()["code"]}, timeout=30)
        assert login.status_code == 200, login.text
        run = subprocess.run(
            [
                str(Path(sys.executable).parent / "schemathesis"),
                "run",
                f"{url}/api/schema/",
                *(part for option in OPTIONS.items() for part in option),
                "--header",
                f"Authorization: Bearer {login.json()['token']}",
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
    operations = re.search(r"Operations:\s+(\d+) selected / (\d+) total", run.stdout)
    tested = re.search(r"Tested: (\d+)", run.stdout)
    assert operations and tested, run.stdout
    assert int(tested.group(1)) == int(operations.group(2)) >= 3  # every operation, not a silent empty run
