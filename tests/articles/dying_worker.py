"""A Celery app for tests whose worker SIGKILLs itself right after a chosen send step is stored.

Run as `celery -A tests.articles.dying_worker worker --pool=solo` with DIE_AFTER_STEP set to
a step name of articles.signals.push_send_step_stored ("draft", "batch:1:answered", ...).
Only the stopping is test-made: every step runs the product's code, against the sandbox.
"""

import os
import signal

from articles.signals import push_send_step_stored
from config.celery import app  # noqa: F401  (the app this worker runs)


def _die_after_step(sender, *, push_id, step, **kwargs):
    if step == os.environ.get("DIE_AFTER_STEP"):
        os.kill(os.getpid(), signal.SIGKILL)


push_send_step_stored.connect(_die_after_step, weak=False)
