"""A Celery app for tests whose worker SIGKILLs itself right after a chosen send step is stored.

Run as `celery -A tests.articles.dying_worker worker --pool=solo` with DIE_AFTER_STEP set to
a step name push_send logs as stored ("draft", "batch:1:answered", ...: tests/articles/send_steps.py).
Only the stopping is test-made: every step runs the product's code, against the sandbox.
"""

import os
import signal

from config.celery import app  # noqa: F401  (the app this worker runs)
from tests.articles.send_steps import send_step_hook_install


def _die_after_step(step: str) -> None:
    if step == os.environ.get("DIE_AFTER_STEP"):
        os.kill(os.getpid(), signal.SIGKILL)


send_step_hook_install(_die_after_step)
