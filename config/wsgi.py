import os

from django.core.wsgi import get_wsgi_application

from config.settings_checks import SettingsRefused

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
try:
    application = get_wsgi_application()
except SettingsRefused as refused:
    from gunicorn.errors import AppImportError

    # gunicorn prints an AppImportError's message alone and stops; anything else it logs
    # with a traceback, and a worker that merely exits is restarted over and over.
    raise AppImportError(str(refused)) from None
