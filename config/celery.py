import os
import sys

import click
from celery import Celery, bootsteps
from django.conf import settings

from config.liveness import WORKER_HEARTBEAT_SECONDS, worker_heartbeat_forget, worker_heartbeat_record
from config.settings_checks import SettingsRefused

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("wechatcms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class LivenessHeartbeat(bootsteps.StartStopStep):
    """Each worker says it is alive every few seconds, for /api/v1/health (config/liveness.py)."""

    requires = {"celery.worker.components:Timer"}

    def start(self, worker):
        worker_heartbeat_record(worker.hostname)
        self.timer_entry = worker.timer.call_repeatedly(
            WORKER_HEARTBEAT_SECONDS, worker_heartbeat_record, (worker.hostname,), priority=10
        )

    def stop(self, worker):
        if getattr(self, "timer_entry", None) is not None:
            self.timer_entry.cancel()
        worker_heartbeat_forget(worker.hostname)


app.steps["worker"].add(LivenessHeartbeat)


@app.on_configure.connect
def _refused_settings_without_a_traceback(**kwargs):
    """Under the `celery` command, settings that refuse to start print their lines alone and exit 1."""
    if click.get_current_context(silent=True) is None:
        return  # imported by another program, which reports the refusal its own way
    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads the settings, which may refuse
    except SettingsRefused as refused:
        sys.exit(str(refused))  # celery's signals swallow exceptions, but not SystemExit
