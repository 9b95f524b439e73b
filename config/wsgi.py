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
