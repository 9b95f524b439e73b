"""An idempotent statement run on the thread's kept database connection without the per-request health check.

Production keeps each thread's PostgreSQL connection between requests and checks it with a
`SELECT 1` as a request first uses it (`CONN_HEALTH_CHECKS`, docs/deploy.md), so a connection a
database restart or failover broke is replaced instead of failing the request. That check is a
round trip of its own. A request whose whole database work is one statement that may safely run
twice (a payment notification's, which a repeat changes nothing with) can check afterwards
instead: run it straight away, and only if it fails on a connection that no longer works, open a
new one and run it once more. A restart then fails no such request, and the healthy case costs
one round trip, not two. Anything else (a deadlock, a timeout, an error of the statement) is
raised as before, and inside a transaction nothing is skipped or repeated.
"""

from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection

Result = TypeVar("Result")


def idempotent_statement_run(run: Callable[[], Result]) -> Result:
    """`run()` (one statement that may safely run twice), without the health check's round trip when it succeeds."""
    skips_check = (
        not connection.in_atomic_block
        and connection.connection is not None
        and connection.health_check_enabled
        and not connection.health_check_done
    )
    if not skips_check:
        return run()
    # The statement is the check: it fails on a connection a restart broke, as the SELECT 1 would.
    connection.health_check_done = True
    try:
        return run()
    except OperationalError:
        if connection.is_usable():
            raise  # the connection works: the statement itself failed
        # Broken before or during the statement: whether it ran or not, running it again is safe.
        connection.close()
        return run()
