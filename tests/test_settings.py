"""Production refuses to start without its secrets; with them, the deploy checks pass."""

import os
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENVIRONMENT = {
    "DJANGO_DEBUG": "false",
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-key-with-enough-entropy-1234567890",
    "DJANGO_FIELD_ENCRYPTION_SALT": "production-salt",
    "DJANGO_ALLOWED_HOSTS": "shop.example.com",
    "DATABASE_URL": "postgres://app@127.0.0.1:5432/app",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "CACHE_URL": "redis://127.0.0.1:6379/1",
    "WECHAT_OFFICIAL_ACCOUNT_APPID": "wx0000000000000001",
    "WECHAT_OFFICIAL_ACCOUNT_SECRET": "oa-secret",
    "WECHAT_MINI_PROGRAM_APPID": "wx0000000000000002",
    "WECHAT_MINI_PROGRAM_SECRET": "mp-secret",
    "WECHAT_PAY_MCH_ID": "1900000001",
    "WECHAT_PAY_API_KEY": "pay-api-key",
}


def _manage(args: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    # Start from a clean slate: nothing from this test run's environment may leak in.
    clean = {key: value for key, value in os.environ.items() if key not in PRODUCTION_ENVIRONMENT}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**clean, "DJANGO_VAR_DIR": "/nonexistent-var", **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_refuses_to_start_without_secrets():
    result = _manage(["check"], {"DJANGO_DEBUG": "false"})

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
    assert "WECHAT_MINI_PROGRAM_SECRET" in result.stderr
    assert "WECHAT_PAY_API_KEY" in result.stderr


def test_production_names_exactly_the_one_missing_secret():
    environment = {**PRODUCTION_ENVIRONMENT}
    del environment["WECHAT_OFFICIAL_ACCOUNT_SECRET"]

    result = _manage(["check"], environment)

    assert result.returncode != 0
    assert "must be set in the environment: WECHAT_OFFICIAL_ACCOUNT_SECRET\n" in result.stderr


def test_production_with_secrets_passes_the_deploy_checks():
    result = _manage(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION_ENVIRONMENT)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    assert "oa-secret" not in result.stdout + result.stderr


def test_an_unknown_token_endpoint_is_refused_at_start():
    result = _manage(["check"], {**PRODUCTION_ENVIRONMENT, "WECHAT_TOKEN_ENDPOINT": "fast"})

    assert result.returncode != 0
    assert "WECHAT_TOKEN_ENDPOINT must be 'stable' or 'classic', not 'fast'" in result.stderr
