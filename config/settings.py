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
from django.urls import reverse
from django.utils.translation import gettext_lazy

from config.settings_checks import (
    SettingsRefused,
    allowed_hosts_problem,
    certificate_pair_problem,
    notify_url_problem,
    pay_api_key_problem,
    public_notify_url_problem,
    secret_key_problem,
    wechat_base_url_problem,
)

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
# The sandbox serves WeChat Pay APIv3 (/v3/) over HTTPS on this port, and writes each merchant's v3 keys
# to WECHAT_SANDBOX_TLS_DIR as it starts (merchant-<mch_id>-v3*.pem, merchant-<mch_id>-v3.json).
WECHAT_SANDBOX_V3_PORT = env.int("WECHAT_SANDBOX_V3_PORT", default=WECHAT_SANDBOX_PORT + 2)

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-development-key-only-for-debug-mode-0123456789")
# App secrets and EncodingAESKeys are encrypted in the database with a key derived from SECRET_KEY and this
# salt (django-fernet-encrypted-fields); rotating SECRET_KEY keeps the old one in DJANGO_SECRET_KEY_FALLBACKS.
SALT_KEY = env.str("DJANGO_FIELD_ENCRYPTION_SALT", default="insecure-development-salt")
SECRET_KEY_FALLBACKS = env.list("DJANGO_SECRET_KEY_FALLBACKS", default=[])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
if not DEBUG and env.str("DJANGO_SECRET_KEY", default=""):
    _problems.append(secret_key_problem(SECRET_KEY))
if not DEBUG and env.str("DJANGO_ALLOWED_HOSTS", default=""):
    _problems.append(allowed_hosts_problem(ALLOWED_HOSTS))

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
    "campaigns",
    "articles",
    "orders",
    "subscribe_messages",
    "demo",
    "treebeard",
    "import_export",
    "django_prose_editor",
    "staff_home",
    "staff",
]

MIDDLEWARE = [
    # Outside everything that may answer on its own (the API's error bodies, the request guards),
    # so every response carries the security headers, a 404 or 413 included.
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Then, so that whatever answers an /api/ request with an error, it is the API's error body.
    "config.api_middleware.ApiErrorBodyMiddleware",
    "config.request_guards.MalformedContentLengthMiddleware",
    "config.api_middleware.ApiBodySizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "config.api_middleware.ApiAwareCommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: staff read the admin in their own language (Chinese unless they chose
    # English), the API answers in the client's Accept-Language (staff/middleware.py).
    "staff.middleware.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
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
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Each gunicorn thread keeps its connection between requests (opening one costs PostgreSQL a process,
    # several ms), and checks it with one SELECT 1 as a request first uses it, so a connection a database
    # restart broke is replaced before it fails a request. Why not Django's psycopg pool: docs/deploy.md.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=600))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("DATABASE_CONN_HEALTH_CHECKS", default=True))
    # A statement run on a cursor that binds on the server (config/prepared_statements.py: order placement's
    # call, the API token's lookup) is prepared by psycopg on its fifth run on a connection: parsed and planned
    # once, not per request. Django leaves this off; its ORM binds on the client and never prepares.
    # PgBouncer in front: docs/deploy.md.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)
else:
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

# Chinese first: staff read Simplified Chinese unless they pick English in the admin's user menu, and the
# API answers in Chinese unless the client's Accept-Language asks for English (docs/architecture.md).
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Beijing time everywhere: WeChat's quotas are Beijing calendar days and months, and staff read Beijing time.
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
# Our own date and number formats per language (config/formats/zh_Hans: 2026年12月4日 22:11).
FORMAT_MODULE_PATH = ["config.formats"]

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
    # The language switch in the header's user menu posts to our view, which keeps the choice per user.
    "SHOW_LANGUAGES": True,
    "LANGUAGES": {"action": lambda request: reverse("staff_language_switch")},
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
# django-celery-beat's schedules in the database, read by a scheduler that outlives a database restart.
CELERY_BEAT_SCHEDULER = "config.beat:ResilientDatabaseScheduler"
# /api/v1/health answers 503 "degraded" when beat has not completed a tick for this long.
HEALTH_BEAT_MAX_SILENCE_SECONDS = env.int("HEALTH_BEAT_MAX_SILENCE_SECONDS", default=180)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_ON_FAILURE_OR_TIMEOUT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Orders: unpaid orders give their stock back after this long. Workers must consume the
# `orders` queue too (celery worker -Q celery,orders).
ORDER_PAYMENT_TIMEOUT_MINUTES = env.int("ORDER_PAYMENT_TIMEOUT_MINUTES", default=30)
# A shipped order the buyer has not confirmed is completed this many days after it shipped (beat);
# a fraction is allowed, so a demo or test can make it minutes.
ORDER_AUTO_COMPLETE_DAYS = env.float("ORDER_AUTO_COMPLETE_DAYS", default=10.0)
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
# WeChat's statistics (datacube): how many past days a sync fetches when earlier runs missed some.
# WeChat documents no retention (it keeps figures from 2014-12-01); the bound keeps a long outage
# from turning one run into thousands of calls.
STATISTICS_CATCH_UP_DAYS = env.int("STATISTICS_CATCH_UP_DAYS", default=30)
# A follower sync's user/info/batchget calls in flight at once (each a thread with its own HTTP session).
# WeChat documents daily quotas for them (接口调用频次限制说明), no limit on concurrency; with WeChat a
# round trip away, more in flight shortens the sync's waiting (docs/benchmarks.md). 1 makes them one
# after the other.
FOLLOWER_SYNC_CONCURRENCY = env.int("FOLLOWER_SYNC_CONCURRENCY", default=32)
if not 1 <= FOLLOWER_SYNC_CONCURRENCY <= 64:
    _problems.append(f"FOLLOWER_SYNC_CONCURRENCY must be 1 to 64, not {FOLLOWER_SYNC_CONCURRENCY}.")
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
    # WeChat's statistics: a few calls a day per account, but up to hundreds when catching up.
    "articles.tasks.sync_account_statistics": {"queue": "followers"},
    "articles.tasks.sync_statistics_of_every_account": {"queue": "followers"},
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
# The Mini Program's message push (消息推送) at /wechat/mp/<appid>/: the token set in its console, and the
# EncodingAESKey when it pushes in safe mode. Without a token the URL answers 404 (development has the
# sandbox's). The shipping service's confirm-receipt event arrives this way.
WECHAT_MINI_PROGRAM_PUSH_TOKEN = env.str(
    "WECHAT_MINI_PROGRAM_PUSH_TOKEN", default="sandboxMiniProgramPush" if DEBUG else ""
)
WECHAT_MINI_PROGRAM_PUSH_AES_KEY = env.str("WECHAT_MINI_PROGRAM_PUSH_AES_KEY", default="")
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
# A v3 merchant's notifications go to /wechat/pay/v3/notify/ and /v3/refund-notify/; unset, beside the
# v2 URLs above (wechat/pay/notify_urls.py).
WECHAT_PAY_V3_NOTIFY_URL = env.str("WECHAT_PAY_V3_NOTIFY_URL", default="")
WECHAT_PAY_V3_REFUND_NOTIFY_URL = env.str("WECHAT_PAY_V3_REFUND_NOTIFY_URL", default="")
for _name in ("WECHAT_PAY_V3_NOTIFY_URL", "WECHAT_PAY_V3_REFUND_NOTIFY_URL"):
    if globals()[_name] and (problem := notify_url_problem(_name, globals()[_name])):
        _problems.append(problem)
# A refund WeChat has not reported on after this long is asked about (pay/refundquery) by a beat task.
WECHAT_PAY_REFUND_QUERY_AFTER_MINUTES = env.int("WECHAT_PAY_REFUND_QUERY_AFTER_MINUTES", default=10)
# WeChat Pay APIv3 (JSON, RSA-signed) is on WeChat Pay's host under /v3/; the sandbox serves it over HTTPS
# on its own port, with the same CA as secapi/ (WECHAT_PAY_CA_BUNDLE).
WECHAT_PAY_V3_BASE_URL = _wechat_base_url(
    "WECHAT_PAY_V3_BASE_URL",
    production_default="https://api.mch.weixin.qq.com/",
    development_default=f"https://127.0.0.1:{WECHAT_SANDBOX_V3_PORT}/",
)
# A v3 answer signed under a platform certificate we do not hold makes us download the certificates
# again (/v3/certificates), at most once in this many seconds per merchant, whatever the requests.
WECHAT_PAY_V3_CERTIFICATE_REFRESH_SECONDS = env.int("WECHAT_PAY_V3_CERTIFICATE_REFRESH_SECONDS", default=60)
# How we sign WeChat Pay v2 requests; WeChat signs its answers and notifications the same way.
WECHAT_PAY_SIGN_TYPE = env.str("WECHAT_PAY_SIGN_TYPE", default="MD5")
if WECHAT_PAY_SIGN_TYPE not in {"MD5", "HMAC-SHA256"}:
    _problems.append(f"WECHAT_PAY_SIGN_TYPE must be 'MD5' or 'HMAC-SHA256', not {WECHAT_PAY_SIGN_TYPE!r}.")

# The settings' merchant's WeChat Pay API: "v2" (API key, XML) or "v3" (what WeChat Pay gives a new
# merchant: private key, APIv3 key, WeChat Pay's public key). `make demo` runs v3; a merchant added
# in the admin has its own. A v3 merchant's credentials: the WECHAT_PAY_V3_* values below, or a
# description file naming them (in development, the one the sandbox writes as it issues the keys).
WECHAT_PAY_API_VERSION = env.str("WECHAT_PAY_API_VERSION", default="v2")
if WECHAT_PAY_API_VERSION not in {"v2", "v3"}:
    _problems.append(f"WECHAT_PAY_API_VERSION must be 'v2' or 'v3', not {WECHAT_PAY_API_VERSION!r}.")
WECHAT_PAY_V3_CREDENTIALS_FILE = env.str(
    "WECHAT_PAY_V3_CREDENTIALS_FILE",
    default=str(WECHAT_SANDBOX_TLS_DIR / f"merchant-{WECHAT_PAY_MCH_ID}-v3.json") if DEBUG else "",
)
WECHAT_PAY_APIV3_KEY = env.str("WECHAT_PAY_APIV3_KEY", default="")
WECHAT_PAY_V3_PRIVATE_KEY_PATH = env.str("WECHAT_PAY_V3_PRIVATE_KEY_PATH", default="")
WECHAT_PAY_V3_CERTIFICATE_SERIAL = env.str("WECHAT_PAY_V3_CERTIFICATE_SERIAL", default="")
WECHAT_PAY_V3_PUBLIC_KEY_PATH = env.str("WECHAT_PAY_V3_PUBLIC_KEY_PATH", default="")
WECHAT_PAY_V3_PUBLIC_KEY_ID = env.str("WECHAT_PAY_V3_PUBLIC_KEY_ID", default="")
if WECHAT_PAY_API_VERSION == "v3" and not WECHAT_PAY_V3_CREDENTIALS_FILE:
    _problems.extend(
        f"{name} is required for a v3 merchant (WECHAT_PAY_API_VERSION=v3)."
        for name in (
            "WECHAT_PAY_APIV3_KEY",
            "WECHAT_PAY_V3_PRIVATE_KEY_PATH",
            "WECHAT_PAY_V3_CERTIFICATE_SERIAL",
            "WECHAT_PAY_V3_PUBLIC_KEY_PATH",
            "WECHAT_PAY_V3_PUBLIC_KEY_ID",
        )
        if not globals()[name]
    )

# Production refuses weak values of what is set (a missing one is reported above), one line each.
if not DEBUG:
    if WECHAT_PAY_API_KEY and env.str("WECHAT_PAY_API_KEY", default=""):
        _problems.append(pay_api_key_problem(WECHAT_PAY_API_KEY))
    for _name, _url in (
        ("WECHAT_PAY_NOTIFY_URL", WECHAT_PAY_NOTIFY_URL),
        ("WECHAT_PAY_REFUND_NOTIFY_URL", WECHAT_PAY_REFUND_NOTIFY_URL),
    ):
        if _url and not notify_url_problem(_name, _url):
            _problems.append(public_notify_url_problem(_name, _url))
    if WECHAT_PAY_CERT_PATH and WECHAT_PAY_KEY_PATH:
        _problems.append(certificate_pair_problem(WECHAT_PAY_CERT_PATH, WECHAT_PAY_KEY_PATH))

_problems = [problem for problem in _problems if problem]
if _problems:
    raise SettingsRefused(_problems)
