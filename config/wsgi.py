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

from config.encrypted_fields import encryption_keys_derive  # noqa: E402 - once Django is set up

# Here, in gunicorn's master (preload_app): every worker forks with the keys the secrets decrypt with,
# instead of deriving them while it answers its first requests (a merchant's key, a notification's).
encryption_keys_derive()
