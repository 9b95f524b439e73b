"""gunicorn's settings for the web process: `gunicorn -c config/gunicorn.py config.wsgi` (docs/deploy.md).

4 processes of 4 threads per host by default, WEB_CONCURRENCY and WEB_THREADS override them.
Processes spread Python's work over the cores (the GIL lets one thread of a process run at a
time); threads keep a process serving while some of its requests wait on WeChat (a login's
jscode2session, a prepay) or on a row lock, instead of the whole process waiting. The benches
start gunicorn with this file, so what they measure is what this file deploys.
"""

import os

worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("WEB_THREADS", "4"))
# Import the app once, then fork: a refused setting stops the master at once (config/wsgi.py), and
# workers start in a fraction of the time.
preload_app = True
