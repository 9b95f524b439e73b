import os
import sys

from django.core.wsgi import get_wsgi_application

from config.settings_checks import SettingsRefused

# gunicorn reads this exit status as "App failed to load" and stops: any other status, or an
# exception, would restart the worker over and over (and print a traceback each time).
APP_LOAD_ERROR = 4

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
try:
    application = get_wsgi_application()
except SettingsRefused as refused:
    print(refused, file=sys.stderr)
    sys.exit(APP_LOAD_ERROR)

from config.celery import app as celery_app  # noqa: E402 - once Django is set up
from config.encrypted_fields import encryption_keys_derive  # noqa: E402

# What each worker would otherwise do while it answers its first requests (a notification reads a
# merchant's keys and queues a task), done here once, in gunicorn's master (preload_app), whose
# workers fork with it: the keys the secrets decrypt with, and the Celery app's tasks bound to it.
# No connection is opened: each worker opens its own to the broker on its first task.
encryption_keys_derive()
celery_app.finalize(auto=True)
