"""The fault suite's private services: missing PostgreSQL binaries fail the run under CI=true, never skip it."""

import pytest

from tests import private_services


def test_missing_postgres_binaries_fail_under_ci(monkeypatch):
    monkeypatch.setattr(private_services.glob, "glob", lambda pattern: [])  # a machine without the server
    monkeypatch.setattr(private_services, "IN_CI", True)

    with pytest.raises(pytest.fail.Exception, match="required under CI=true"):
        private_services.postgres_bin_dir()


def test_missing_postgres_binaries_skip_elsewhere(monkeypatch):
    monkeypatch.setattr(private_services.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(private_services, "IN_CI", False)

    with pytest.raises(pytest.skip.Exception):
        private_services.postgres_bin_dir()


def test_the_ci_script_runs_the_fault_suite_as_its_own_step():
    script = (private_services.BASE_DIR / ".ci" / "run").read_text()

    assert ".venv/bin/pytest -m faults tests/faults" in script
    assert 'compgen -G "/usr/lib/postgresql/*/bin/initdb"' in script
