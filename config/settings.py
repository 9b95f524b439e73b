"""All settings, read from the environment in this one place.

Embedded defaults (DJANGO_DEBUG=true) need nothing installed: SQLite, a database
cache and Celery on kombu's filesystem transport under var/, WeChat pointed at
the local sandbox. With DEBUG off every production value must come from the
environment, WeChat means WeChat's own hosts, and each missing or unsafe value is
one line of the SettingsRefused that stops the process at start.
"""

import os
from pathlib import Path

import environ
from django.templatetags.static import static
from django.utils.translation import gettext_lazy

from config.settings_checks import SettingsRefused, notify_url_problem, wechat_base_url_problem

BASE_DIR = Path(__file__).resolve().parent.parent
# DJANGO_ENV_FILE names another file, so a test or a second checkout never touches a developer's .env.
ENV_FILE = Path(os.environ.get("DJANGO_ENV_FILE") or BASE_DIR / ".env")
env = environ.Env()
environ.Env.read_env(ENV_FILE, overwrite=False)
VAR_DIR = Path(env.str("DJANGO_VAR_DIR", default=str(BASE_DIR / "var")))

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Every problem found below; the last lines raise them together, one line each.
_problems: list[str] = []
if os.environ.get("DJANGO_ENV_FILE") and not ENV_FILE.is_file():
    _problems.append(f"DJANGO_ENV_FILE={ENV_FILE} does not exist.")

# Values that production must set, and what each is for; embedded defaults serve development only.
_PRODUCTION_REQUIRED = {
    "DJANGO_SECRET_KEY": "the key Django signs sessions, password-reset links and CSRF tokens with (long and random)",
    "DJANGO_FIELD_ENCRYPTION_SALT": "with the secret key, derives the key that encrypts app secrets in the database",
    "DJANGO_ALLOWED_HOSTS": "the host names this site answers to, comma-separated",
    "DATABASE_URL": "the PostgreSQL database, postgres://user:password@host:5432/name",
    "CELERY_BROKER_URL": "the Celery broker, redis://host:6379/0 or amqp://user:password@host:5672//",
    "CACHE_URL": "the Redis cache all processes share (it holds the WeChat access tokens), redis://host:6379/1",
    "WECHAT_OFFICIAL_ACCOUNT_APPID": "the Official Account's AppID",
    "WECHAT_OFFICIAL_ACCOUNT_SECRET": "the Official Account's AppSecret",
    "WECHAT_MINI_PROGRAM_APPID": "the Mini Program's AppID",
    "WECHAT_MINI_PROGRAM_SECRET": "the Mini Program's AppSecret",
    "WECHAT_PAY_MCH_ID": "the WeChat Pay merchant id",
    "WECHAT_PAY_API_KEY": "the WeChat Pay v2 API key that signs payment requests",
    "WECHAT_PAY_NOTIFY_URL": "where WeChat Pay posts payment results: https://<this site>/wechat/pay/notify/",
    "WECHAT_PAY_CERT_PATH": "the merchant certificate (apiclient_cert.pem) that refunds (secapi/) are made with",
    "WECHAT_PAY_KEY_PATH": "the merchant certificate's private key (apiclient_key.pem)",
}
if not DEBUG:
    _missing = [name for name in _PRODUCTION_REQUIRED if not env.str(name, default="")]
    _problems += [f"{name} is not set: {_PRODUCTION_REQUIRED[name]}." for name in _missing]
    if _missing:
        _problems.append(
            f"DJANGO_DEBUG is off, so these come from the environment or {ENV_FILE} "
            "(DJANGO_DEBUG=true runs on the development defaults)."
        )

WECHAT_SANDBOX_PORT = env.int("WECHAT_SANDBOX_PORT", default=8900)
_SANDBOX_URL = f"http://127.0.0.1:{WECHAT_SANDBOX_PORT}/"
# The sandbox serves WeChat Pay's secapi/ (refunds) over TLS on this port, asking for the merchant
# certificate it issued; it writes its CA and that certificate here as it starts (make demo).
WECHAT_SANDBOX_TLS_PORT = env.int("WECHAT_SANDBOX_TLS_PORT", default=WECHAT_SANDBOX_PORT + 1)
WECHAT_SANDBOX_TLS_DIR = Path(env.str("WECHAT_SANDBOX_TLS_DIR", default=str(VAR_DIR / "wechat-sandbox-tls")))

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-development-key-only-for-debug-mode-0123456789")
# App secrets and EncodingAESKeys are encrypted in the database with a key derived from SECRET_KEY and this
# salt (django-fernet-encrypted-fields); rotating SECRET_KEY keeps the old one in DJANGO_SECRET_KEY_FALLBACKS.
SALT_KEY = env.str("DJANGO_FIELD_ENCRYPTION_SALT", default="insecure-development-salt")
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The admin's theme (django-unfold): before django.contrib.admin so its templates win; its
    # styles, fonts and Chart.js are served from its own static files, never a CDN.
    "unfold",
    "unfold.contrib.import_export",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "wechat",
    "wechat_sandbox",
    "customers",
    "catalog",
    "articles",
    "orders",
    "demo",
    "treebeard",
    "import_export",
    "django_prose_editor",
    "staff_home",
]

MIDDLEWARE = [
    # Outermost, so that whatever answers an /api/ request with an error, it is the API's error body.
    "config.api_middleware.ApiErrorBodyMiddleware",
    "config.request_guards.MalformedContentLengthMiddleware",
    "config.api_middleware.ApiBodySizeLimitMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.api_middleware.ApiAwareCommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker, beat and tests share one file: wait for locks instead of failing,
    # and take the write lock at BEGIN so two writers never deadlock on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so a Celery worker started by a test sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=0))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Shared by every process: the WeChat access tokens, their refresh locks, throttles.
# The embedded default is the database cache because its add() is atomic across
# processes, which the token refresh lock relies on.
CACHES = {"default": env.cache("CACHE_URL", default="dbcache://django_cache")}
# Each process's own copies of storefront answers, in front of the shared cache
# (catalog/storefront_caching.py): a few thousand answers of a few KB.
CACHES["storefront_local"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "storefront-answers",
    "OPTIONS": {"MAX_ENTRIES": 2000},
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "Asia/Shanghai"  # WeChat quotas are Beijing calendar days and months
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# The admin's theme (docs/architecture.md, "The admin"): names, and the home page by role.
UNFOLD = {
    "SITE_TITLE": gettext_lazy("WeChat CMS"),
    "SITE_HEADER": gettext_lazy("WeChat CMS"),
    "SITE_SUBHEADER": gettext_lazy("Official Account and Mini Program"),
    # No "View site" link: the storefront is the Mini Program.
    "SITE_URL": None,
    "SHOW_VIEW_ON_SITE": False,
    "GLOBAL_CALLBACK": "staff_home.theme.admin_theme_context",
    "DASHBOARD_CALLBACK": "staff_home.dashboard.staff_home_context",
    "STYLES": [lambda request: static("staff_home/admin.css")],
}
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
MEDIA_URL = "media/"
MEDIA_ROOT = env.path("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Behind a TLS-terminating proxy in production.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_CONTENT_TYPE_NOSNIFF = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # wechatpy logs whole requests at DEBUG, urllib3 whole URLs: both can carry app secrets.
    "loggers": {"wechatpy": {"level": "INFO"}, "urllib3": {"level": "INFO"}},
}

# --- REST API -------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["customers.authentication.CustomerTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "config.api_schema.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "config.exception_handler.api_exception_handler",
    # JSON in and out only, in development too: no form or multipart bodies, no browsable API.
    "DEFAULT_PARSER_CLASSES": ["config.api_parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",  # APIClient sends what the API accepts
    # Rates of config.throttling.AtomicScopedRateThrottle, counted in the shared cache, per client IP.
    "DEFAULT_THROTTLE_RATES": {"login": env.str("API_LOGIN_THROTTLE_RATE", default="20/min")},
    "UNAUTHENTICATED_USER": None,
    # Throttles key on the client IP: count the proxies in front so X-Forwarded-For is read, not trusted blindly.
    "NUM_PROXIES": env.int("API_NUM_PROXIES", default=0 if DEBUG else 1),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "WeChat CMS API",
    "DESCRIPTION": "APIs the Mini Program storefront calls. Errors share one body: "
    '{"code": ..., "message": ..., "fields": {...}}.',
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from our own static files: the docs must work without reaching a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}
API_TOKEN_TTL_DAYS = env.int("API_TOKEN_TTL_DAYS", default=30)
# Request bodies the API parses; larger or deeper ones are refused (413 / 400) before parsing.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=32)

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = VAR_DIR / "broker"
    # kombu's filesystem transport fails on a missing folder instead of creating it.
    for _folder in ("processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Orders: unpaid orders give their stock back after this long. Workers must consume the
# `orders` queue too (celery worker -Q celery,orders).
ORDER_PAYMENT_TIMEOUT_MINUTES = env.int("ORDER_PAYMENT_TIMEOUT_MINUTES", default=30)
# Pushes: mass sends wait on WeChat's 60 calls a minute, so they get their own queue and
# workers must consume it too (celery worker -Q celery,orders,mass_send).
MASS_SEND_QUEUE = env.str("MASS_SEND_QUEUE", default="mass_send")
# The send task retries WeChat's transient errors this often, backing off exponentially up to the cap.
PUSH_SEND_MAX_RETRIES = env.int("PUSH_SEND_MAX_RETRIES", default=6)
PUSH_SEND_RETRY_BASE_SECONDS = env.float("PUSH_SEND_RETRY_BASE_SECONDS", default=10.0)
PUSH_SEND_RETRY_MAX_SECONDS = env.float("PUSH_SEND_RETRY_MAX_SECONDS", default=600.0)
# A push in `sending` with no step stored for this long lost its worker: beat resumes it.
# Longer than the longest retry wait, so a retry on its way is not doubled.
PUSH_SEND_STALLED_SECONDS = env.int("PUSH_SEND_STALLED_SECONDS", default=900)
# A publication without PUBLISHJOBFINISH after this long is asked about with freepublish/get.
PUSH_PUBLICATION_WAIT_SECONDS = env.int("PUSH_PUBLICATION_WAIT_SECONDS", default=600)
# A mass send without MASSSENDJOBFINISH after this long is asked about with message/mass/get.
# Over 30 minutes: with API mass-send protection on, an administrator has 30 minutes to confirm.
PUSH_MASS_SEND_RESULT_WAIT_SECONDS = env.int("PUSH_MASS_SEND_RESULT_WAIT_SECONDS", default=3600)
# WeChat's 群发接口 limit: 60 mass-send calls a minute per account, shared by all workers.
WECHAT_MASS_SEND_CALLS_PER_MINUTE = env.int("WECHAT_MASS_SEND_CALLS_PER_MINUTE", default=60)
WECHAT_MASS_SEND_SLOT_WAIT_SECONDS = env.float("WECHAT_MASS_SEND_SLOT_WAIT_SECONDS", default=65.0)
# Follower syncs take minutes for a large account: their own queue keeps them from delaying
# sends or payments (workers consume it too: -Q celery,orders,followers). Named exactly, so
# they stay there whatever pattern routes the rest of articles.tasks.
# Reconciliation reads a whole day's bill (minutes for a large merchant): its own queue keeps it from
# delaying payments (workers consume it too: -Q celery,orders,followers,reconciliation).
CELERY_TASK_ROUTES = {
    "orders.tasks.reconcile_payments": {"queue": "reconciliation"},
    "orders.tasks.*": {"queue": "orders"},
    "articles.tasks.sync_account_followers": {"queue": "followers"},
    "articles.tasks.sync_followers_of_every_account": {"queue": "followers"},
    # Everything else of articles.tasks: pushes (exact names above win over a pattern).
    "articles.tasks.*": {"queue": MASS_SEND_QUEUE},
}

# --- WeChat ---------------------------------------------------------------
# Development talks to the local sandbox; production to WeChat itself, and never to a
# sandbox or other private address unless WECHAT_ALLOW_PRIVATE_BASE_URL says so (staging).
WECHAT_ALLOW_PRIVATE_BASE_URL = env.bool("WECHAT_ALLOW_PRIVATE_BASE_URL", default=False)


def _wechat_base_url(name: str, *, production_default: str, development_default: str = _SANDBOX_URL) -> str:
    url = env.str(name, default=development_default if DEBUG else production_default).rstrip("/") + "/"
    problem = wechat_base_url_problem(name, url, allow_private=DEBUG or WECHAT_ALLOW_PRIVATE_BASE_URL)
    if problem:
        _problems.append(problem)
    return url


WECHAT_API_BASE_URL = _wechat_base_url("WECHAT_API_BASE_URL", production_default="https://api.weixin.qq.com/")
WECHAT_PAY_API_BASE_URL = _wechat_base_url(
    "WECHAT_PAY_API_BASE_URL", production_default="https://api.mch.weixin.qq.com/"
)
WECHAT_HTTP_TIMEOUT = env.float("WECHAT_HTTP_TIMEOUT", default=5.0)
# A person waits while we retry WeChat being busy: three tries within about a second.
WECHAT_INTERACTIVE_BACKOFF_SECONDS = (0.2, 0.6)
# "stable" uses cgi-bin/stable_token, "classic" uses cgi-bin/token.
WECHAT_TOKEN_ENDPOINT = env.str("WECHAT_TOKEN_ENDPOINT", default="stable")
if WECHAT_TOKEN_ENDPOINT not in {"stable", "classic"}:
    _problems.append(f"WECHAT_TOKEN_ENDPOINT must be 'stable' or 'classic', not {WECHAT_TOKEN_ENDPOINT!r}.")
WECHAT_OFFICIAL_ACCOUNT_APPID = env.str("WECHAT_OFFICIAL_ACCOUNT_APPID", default="wx4d00ed8d63990001")
WECHAT_OFFICIAL_ACCOUNT_SECRET = env.str("WECHAT_OFFICIAL_ACCOUNT_SECRET", default="sandbox-official-account-secret")
WECHAT_MINI_PROGRAM_APPID = env.str("WECHAT_MINI_PROGRAM_APPID", default="wx2421b1c4370ec43b")
WECHAT_MINI_PROGRAM_SECRET = env.str("WECHAT_MINI_PROGRAM_SECRET", default="sandbox-mini-program-secret")
WECHAT_PAY_MCH_ID = env.str("WECHAT_PAY_MCH_ID", default="10000100")
WECHAT_PAY_API_KEY = env.str("WECHAT_PAY_API_KEY", default="sandboxapikey0000000000000000000")
# Where WeChat Pay posts payment results (统一下单 notify_url): our /wechat/pay/notify/ as WeChat reaches
# it, absolute and without query parameters. Development points it at runserver, which the sandbox reaches.
WECHAT_PAY_NOTIFY_URL = env.str(
    "WECHAT_PAY_NOTIFY_URL",
    default=f"http://127.0.0.1:{env.int('WEB_PORT', default=8000)}/wechat/pay/notify/" if DEBUG else "",
)
if WECHAT_PAY_NOTIFY_URL and (problem := notify_url_problem("WECHAT_PAY_NOTIFY_URL", WECHAT_PAY_NOTIFY_URL)):
    _problems.append(problem)
# secapi/ (refunds) is on WeChat Pay's host too, called with the merchant certificate; the sandbox serves
# it on its TLS port with certificates it issues, so development reads them where it writes them.
if DEBUG or env.str("WECHAT_PAY_SECAPI_BASE_URL", default=""):
    WECHAT_PAY_SECAPI_BASE_URL = _wechat_base_url(
        "WECHAT_PAY_SECAPI_BASE_URL",
        production_default=WECHAT_PAY_API_BASE_URL,
        development_default=f"https://127.0.0.1:{WECHAT_SANDBOX_TLS_PORT}/",
    )
else:
    WECHAT_PAY_SECAPI_BASE_URL = WECHAT_PAY_API_BASE_URL  # WeChat's one host, checked above
_sandbox_merchant_files = WECHAT_SANDBOX_TLS_DIR / f"merchant-{WECHAT_PAY_MCH_ID}"
WECHAT_PAY_CERT_PATH = (
    env.str("WECHAT_PAY_CERT_PATH", default=f"{_sandbox_merchant_files}-cert.pem" if DEBUG else "") or None
)
WECHAT_PAY_KEY_PATH = (
    env.str("WECHAT_PAY_KEY_PATH", default=f"{_sandbox_merchant_files}-key.pem" if DEBUG else "") or None
)
# The CAs WeChat Pay's server certificate is checked against: the system's in production (unset),
# the sandbox's own CA in development.
WECHAT_PAY_CA_BUNDLE = (
    env.str("WECHAT_PAY_CA_BUNDLE", default=str(WECHAT_SANDBOX_TLS_DIR / "ca.pem") if DEBUG else "") or None
)
# Where WeChat Pay posts refund results. Unset, WeChat uses the URL set in the merchant platform.
WECHAT_PAY_REFUND_NOTIFY_URL = env.str(
    "WECHAT_PAY_REFUND_NOTIFY_URL",
    default=f"http://127.0.0.1:{env.int('WEB_PORT', default=8000)}/wechat/pay/refund-notify/" if DEBUG else "",
)
# A refund WeChat has not reported on after this long is asked about (pay/refundquery) by a beat task.
WECHAT_PAY_REFUND_QUERY_AFTER_MINUTES = env.int("WECHAT_PAY_REFUND_QUERY_AFTER_MINUTES", default=10)
# How we sign WeChat Pay v2 requests; WeChat signs its answers and notifications the same way.
WECHAT_PAY_SIGN_TYPE = env.str("WECHAT_PAY_SIGN_TYPE", default="MD5")
if WECHAT_PAY_SIGN_TYPE not in {"MD5", "HMAC-SHA256"}:
    _problems.append(f"WECHAT_PAY_SIGN_TYPE must be 'MD5' or 'HMAC-SHA256', not {WECHAT_PAY_SIGN_TYPE!r}.")

if _problems:
    raise SettingsRefused(_problems)
