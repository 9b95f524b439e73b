"""One reconciliation of a date and merchant at a time, held by the process doing it.

On PostgreSQL the run holds a session advisory lock on (date, merchant) for as long as it works.
PostgreSQL releases it the moment that process's connection goes, so a worker SIGKILLed mid-run
frees the date at once: the next start takes the lock, knows every run still marked running
died with its worker, fails them and starts afresh. Elsewhere (SQLite in development) nothing
holds the date but the run row, and a running row gives way only after RUN_ABANDONED_AFTER.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from django.db import DatabaseError, connection

from orders.exceptions import ReconciliationAlreadyRunning

# The first key of the advisory lock, so our locks cannot meet another feature's.
RECONCILIATION_LOCK_SPACE = 0x5EC0


@contextmanager
def reconciliation_date_locked(*, bill_date: date, mch_id: str) -> Iterator[bool]:
    """Holds the date for this run; yields True when the hold proves other running runs dead.

    Raises ReconciliationAlreadyRunning while another process holds it.
    """
    if connection.vendor != "postgresql":
        yield False
        return
    key = f"{bill_date.isoformat()}/{mch_id}"
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", [RECONCILIATION_LOCK_SPACE, key])
        (held,) = cursor.fetchone()
    if not held:
        raise ReconciliationAlreadyRunning(bill_date=bill_date)
    try:
        yield True
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", [RECONCILIATION_LOCK_SPACE, key])
        except DatabaseError:
            pass  # the connection is gone, and the lock with it; the run's own error is the one to see
