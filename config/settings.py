"""All settings, read from the environment in this one place.

Embedded defaults (DJANGO_DEBUG=true) need nothing installed: SQLite, a database
cache and Celery on kombu's filesystem transport under var/, WeChat pointed at
the local sandbox. With DEBUG off every production value must come from the
environment, and a missing one stops the process at start.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("DJANGO_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# Values that production must set; embedded defaults serve development only.
_PRODUCTION_REQUIRED = [
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "WECHAT_OFFICIAL_ACCOUNT_APPID",
    "WECHAT_OFFICIAL_ACCOUNT_SECRET",
    "WECHAT_MINI_PROGRAM_APPID",
    "WECHAT_MINI_PROGRAM_SECRET",
    "WECHAT_PAY_MCH_ID",
    "WECHAT_PAY_API_KEY",
]
if not DEBUG:
    _missing = [name for name in _PRODUCTION_REQUIRED if not env.str(name, default="")]
    if _missing:
        raise ImproperlyConfigured(
            "DJANGO_DEBUG is off, so these must be set in the environment: " + ", ".join(_missing)
        )

WECHAT_SANDBOX_PORT = env.int("WECHAT_SANDBOX_PORT", default=8900)
_SANDBOX_URL = f"http://127.0.0.1:{WECHAT_SANDBOX_PORT}/"

SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="insecure-development-key-only-for-debug-mode-0123456789")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
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
    "customers",
    "catalog",
    "articles",
    "orders",
    "demo",
    "treebeard",
    "import_export",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
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

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
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

# --- WeChat ---------------------------------------------------------------
# Both base URLs point at the sandbox by default; set them to
# https://api.weixin.qq.com/ and https://api.mch.weixin.qq.com/ for real WeChat.
WECHAT_API_BASE_URL = env.str("WECHAT_API_BASE_URL", default=_SANDBOX_URL)
WECHAT_PAY_API_BASE_URL = env.str("WECHAT_PAY_API_BASE_URL", default=_SANDBOX_URL)
WECHAT_HTTP_TIMEOUT = env.float("WECHAT_HTTP_TIMEOUT", default=5.0)
# "stable" uses cgi-bin/stable_token, "classic" uses cgi-bin/token.
WECHAT_TOKEN_ENDPOINT = env.str("WECHAT_TOKEN_ENDPOINT", default="stable")
if WECHAT_TOKEN_ENDPOINT not in {"stable", "classic"}:
    raise ImproperlyConfigured(f"WECHAT_TOKEN_ENDPOINT must be 'stable' or 'classic', not {WECHAT_TOKEN_ENDPOINT!r}")
WECHAT_OFFICIAL_ACCOUNT_APPID = env.str("WECHAT_OFFICIAL_ACCOUNT_APPID", default="wx4d00ed8d63990001")
WECHAT_OFFICIAL_ACCOUNT_SECRET = env.str("WECHAT_OFFICIAL_ACCOUNT_SECRET", default="sandbox-official-account-secret")
WECHAT_MINI_PROGRAM_APPID = env.str("WECHAT_MINI_PROGRAM_APPID", default="wx2421b1c4370ec43b")
WECHAT_MINI_PROGRAM_SECRET = env.str("WECHAT_MINI_PROGRAM_SECRET", default="sandbox-mini-program-secret")
WECHAT_PAY_MCH_ID = env.str("WECHAT_PAY_MCH_ID", default="10000100")
WECHAT_PAY_API_KEY = env.str("WECHAT_PAY_API_KEY", default="sandboxapikey0000000000000000000")
WECHAT_PAY_CERT_PATH = env.str("WECHAT_PAY_CERT_PATH", default="") or None
WECHAT_PAY_KEY_PATH = env.str("WECHAT_PAY_KEY_PATH", default="") or None
