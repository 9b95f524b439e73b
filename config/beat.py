"""Celery beat's scheduler: django-celery-beat's, surviving a lost database.

django-celery-beat's DatabaseScheduler lets a database error escape from reading the schedule
(at start, after a change, on its 5-minute full re-read), and celery's beat loop stops for good on
any exception: a PostgreSQL restart at the wrong moment left no push sent and no order expired
until someone restarted beat. This one closes the broken connection, waits and reads again, and
records each completed tick for /api/v1/health (config/liveness.py).

Settings name it (CELERY_BEAT_SCHEDULER), so `celery -A config beat` uses it with no flag.
"""

import logging
import time

from django.db import DatabaseError, InterfaceError, connection
from django_celery_beat.schedulers import DatabaseScheduler

from config.liveness import beat_tick_record

logger = logging.getLogger(__name__)

DATABASE_RETRY_SECONDS = 5.0
_LOST_DATABASE_ERRORS = (DatabaseError, InterfaceError)


class ResilientDatabaseScheduler(DatabaseScheduler):
    def setup_schedule(self):
        # Beat may start while the database is still down (both restarting after a host reboot).
        while True:
            try:
                super().setup_schedule()
                return
            except _LOST_DATABASE_ERRORS as error:
                self._database_lost(error, while_doing="reading the schedule at start")
                time.sleep(DATABASE_RETRY_SECONDS)

    def tick(self, *args, **kwargs):
        try:
            interval = super().tick(*args, **kwargs)
        except _LOST_DATABASE_ERRORS as error:
            self._database_lost(error, while_doing="ticking")
            return DATABASE_RETRY_SECONDS
        beat_tick_record()
        return interval

    def _database_lost(self, error: Exception, *, while_doing: str) -> None:
        # The class only: a message can carry the connection URL.
        logger.error(
            "beat lost the database while %s (%s); retrying in %ss",
            while_doing,
            type(error).__name__,
            DATABASE_RETRY_SECONDS,
        )
        _connection_close()
        # Read the whole schedule again once the database answers: it may have changed meanwhile,
        # and an interrupted first read leaves no schedule at all.
        self._initial_read = True
        self._heap = None


def _connection_close() -> None:
    """Drops the broken connection so that the next query opens a new one."""
    try:
        connection.close()
    except _LOST_DATABASE_ERRORS:
        connection.connection = None  # closing a dead connection can fail too; forget it
