import os
import sys

import click
from celery import Celery
from django.conf import settings

from config.settings_checks import SettingsRefused

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("wechatcms")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_configure.connect
def _refused_settings_without_a_traceback(**kwargs):
    """Under the `celery` command, settings that refuse to start print their lines alone and exit 1."""
    if click.get_current_context(silent=True) is None:
        return  # imported by another program, which reports the refusal its own way
    try:
        settings.INSTALLED_APPS  # noqa: B018 - loads the settings, which may refuse
    except SettingsRefused as refused:
        sys.exit(str(refused))  # celery's signals swallow exceptions, but not SystemExit
