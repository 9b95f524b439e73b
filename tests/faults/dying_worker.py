"""A Celery app for the fault suite whose worker SIGKILLs itself when a chosen log record is written.

Run as `celery -A tests.faults.dying_worker worker` with DIE_ON_LOG="<logger>|<text in the message>".
Only the stopping is test-made: everything up to it is the product's own code (config's app).
"""

import logging
import os
import signal

from config.celery import app  # noqa: F401  (the app this worker runs)


class _DieOnRecord(logging.Handler):
    def __init__(self, text: str):
        super().__init__(level=logging.INFO)
        self.text = text

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            os.kill(os.getpid(), signal.SIGKILL)


if os.environ.get("DIE_ON_LOG"):
    logger_name, text = os.environ["DIE_ON_LOG"].split("|", 1)
    logger = logging.getLogger(logger_name)
    logger.addHandler(_DieOnRecord(text))
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
