"""config.idempotent_statements: a statement that may run twice, without the kept connection's health check first.

On PostgreSQL with health checks on (production's setting), a healthy connection runs the statement
once and sends no `SELECT 1`; one the database dropped is replaced and the statement run once more;
an error of the statement itself on a working connection is raised, not repeated; inside a
transaction the check is not skipped. Elsewhere (SQLite: no health checks) it only runs the statement.
The notification that uses it: tests/orders/test_pay_notification_kept_connection.py.
"""

import pytest
from django.db import OperationalError, connection, connections, transaction

from config.idempotent_statements import idempotent_statement_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def kept_connection(monkeypatch):
    """The connection open and its request's health check due, checks counted (Django's is_usable, still run)."""
    checks = []
    is_usable = connection.is_usable

    def counted() -> bool:
        checks.append(True)
        return is_usable()

    connection.ensure_connection()
    # On the thread's connection itself: a setattr on django.db.connection (a proxy) is not undone cleanly.
    wrapper = connections["default"]
    monkeypatch.setattr(wrapper, "is_usable", counted)
    monkeypatch.setattr(wrapper, "health_check_enabled", True)
    connection.health_check_done = False
    return checks


def _value(sql: str, runs: list) -> int:
    runs.append(True)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def test_a_statement_on_a_kept_connection_runs_once_without_a_health_check(kept_connection):
    runs = []

    assert idempotent_statement_run(lambda: _value("SELECT 7", runs)) == 7

    assert (len(runs), kept_connection) == (1, [])


def test_a_statement_whose_connection_the_database_dropped_runs_again_on_a_new_one(kept_connection):
    if connection.vendor != "postgresql":
        pytest.skip("a server that drops connections: PostgreSQL")
    dropped = connection.connection.info.backend_pid
    connection.connection.close()  # the server's side gone, as after a restart; Django still holds it
    runs = []

    assert idempotent_statement_run(lambda: _value("SELECT pg_backend_pid()", runs)) != dropped

    assert len(runs) == 2
    assert len(kept_connection) == 1


def test_an_error_of_the_statement_on_a_working_connection_is_raised_not_repeated(kept_connection):
    if connection.vendor != "postgresql":
        pytest.skip("statement_timeout: PostgreSQL")
    runs = []

    def too_slow():
        runs.append(True)
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = '10ms'")
            try:
                cursor.execute("SELECT pg_sleep(1)")
            finally:
                cursor.execute("RESET statement_timeout")

    with pytest.raises(OperationalError):
        idempotent_statement_run(too_slow)

    assert len(runs) == 1
    assert len(kept_connection) == 1  # the connection was checked, found working, kept


def test_inside_a_transaction_nothing_is_skipped(kept_connection):
    runs = []
    with transaction.atomic():
        assert idempotent_statement_run(lambda: _value("SELECT 7", runs)) == 7
    assert len(runs) == 1
