"""Acting right after push_send stores a step, through the log record it writes then.

articles/services/sending.py logs each stored step with the step's name in the record's
`send_step` ("inline_images", "covers", "draft", "batch:N:answered" once WeChat accepted batch N
and before its msg_id is written, "batch:N" after, "publication"). Importing nothing of Django,
this module also serves a Celery worker before Django is set up (tests/articles/dying_worker.py).
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SENDING_LOGGER = "articles.services.sending"


class SendStepHook(logging.Handler):
    """Calls `action(step)` for each send step logged as stored."""

    def __init__(self, action: Callable[[str], None]):
        super().__init__(level=logging.INFO)
        self.action = action

    def emit(self, record: logging.LogRecord) -> None:
        step = getattr(record, "send_step", None)
        if step is not None:
            self.action(step)  # not caught: an action that fails fails the test


def send_step_hook_install(action: Callable[[str], None]) -> SendStepHook:
    hook = SendStepHook(action)
    logger = logging.getLogger(SENDING_LOGGER)
    logger.addHandler(hook)
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    return hook


@contextmanager
def after_send_step(action: Callable[[str], None]) -> Iterator[None]:
    """`action(step)` runs right after each step push_send stores, while the block runs."""
    logger = logging.getLogger(SENDING_LOGGER)
    level = logger.level
    hook = send_step_hook_install(action)
    try:
        yield
    finally:
        logger.removeHandler(hook)
        logger.setLevel(level)
