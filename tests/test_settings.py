"""Production refuses to start without its secrets or pointed at a sandbox; with them, the deploy checks pass.

Each case starts a real process (manage.py, gunicorn, celery) with a clean environment.
"""

import os
import subprocess
import sys

import pytest
from django.conf import settings

from config.settings_checks import non_public_address_kind
from wechat_sandbox.tls import CertificateAuthority

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
    "WECHAT_PAY_API_KEY": "pay-api-key-of-32-characters-000",
    "WECHAT_PAY_NOTIFY_URL": "https://shop.example.com/wechat/pay/notify/",
    "WECHAT_PAY_CERT_PATH": "/etc/wechat-pay/apiclient_cert.pem",
    "WECHAT_PAY_KEY_PATH": "/etc/wechat-pay/apiclient_key.pem",
}
MISSING_LINES = {
    "DJANGO_SECRET_KEY": "DJANGO_SECRET_KEY is not set: the key Django signs sessions, password-reset links and "
    "CSRF tokens with (long and random).",
    "DJANGO_FIELD_ENCRYPTION_SALT": "DJANGO_FIELD_ENCRYPTION_SALT is not set: with the secret key, derives the key "
    "that encrypts app secrets in the database.",
    "WECHAT_OFFICIAL_ACCOUNT_SECRET": "WECHAT_OFFICIAL_ACCOUNT_SECRET is not set: the Official Account's AppSecret.",
    "WECHAT_PAY_API_KEY": "WECHAT_PAY_API_KEY is not set: the WeChat Pay v2 API key that signs payment requests.",
    "WECHAT_PAY_NOTIFY_URL": "WECHAT_PAY_NOTIFY_URL is not set: where WeChat Pay posts payment results: "
    "https://<this site>/wechat/pay/notify/.",
    "WECHAT_PAY_CERT_PATH": "WECHAT_PAY_CERT_PATH is not set: the merchant certificate (apiclient_cert.pem) that "
    "refunds (secapi/) are made with.",
}
PRINT_BASE_URLS = (
    "from django.conf import settings as s; "
    "print(s.WECHAT_API_BASE_URL, s.WECHAT_PAY_API_BASE_URL, s.WECHAT_PAY_SECAPI_BASE_URL, s.WECHAT_PAY_CA_BUNDLE)"
)
OUR_PREFIXES = ("DJANGO_", "WECHAT_", "CELERY_", "DATABASE_", "CACHE_URL")


@pytest.fixture(scope="module", autouse=True)
def merchant_certificate_files(tmp_path_factory):
    """A real certificate and its key where PRODUCTION_ENVIRONMENT names them: production opens both at start."""
    authority = CertificateAuthority(tmp_path_factory.mktemp("certificates"))
    merchant = authority.merchant_certificate(PRODUCTION_ENVIRONMENT["WECHAT_PAY_MCH_ID"])
    other_merchant = authority.merchant_certificate("1900000002")
    PRODUCTION_ENVIRONMENT.update(WECHAT_PAY_CERT_PATH=merchant.cert_path, WECHAT_PAY_KEY_PATH=merchant.key_path)
    return merchant, other_merchant


@pytest.fixture
def start(tmp_path):
    """Run a command of ours as production would: only the given environment, and no developer's .env."""
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")

    def run(command: list[str], environment: dict[str, str | None]) -> subprocess.CompletedProcess:
        """`environment` adds to a clean one; a None value leaves that variable out."""
        clean = {key: value for key, value in os.environ.items() if not key.startswith(OUR_PREFIXES)}
        clean |= {"DJANGO_ENV_FILE": str(empty_env_file), "DJANGO_VAR_DIR": str(tmp_path / "var"), **environment}
        return subprocess.run(
            command,
            cwd=settings.BASE_DIR,
            env={key: value for key, value in clean.items() if value is not None},
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def _manage(*args: str) -> list[str]:
    return [sys.executable, "manage.py", *args]


def _without(*names: str) -> dict[str, str]:
    return {key: value for key, value in PRODUCTION_ENVIRONMENT.items() if key not in names}


def test_production_refuses_to_start_without_secrets_one_line_each(start):
    result = start(_manage("check"), {"DJANGO_DEBUG": "false"})

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 16  # the fifteen values, then where they come from
    for line in MISSING_LINES.values():
        assert line in lines
    assert lines[-1].startswith("DJANGO_DEBUG is off, so these come from the environment or ")
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--bind", "127.0.0.1:0", "--no-control-socket"],
        [sys.executable, "-m", "gunicorn", "config.wsgi", "--preload", "--bind", "127.0.0.1:0", "--no-control-socket"],
        [sys.executable, "-m", "celery", "-A", "config", "worker"],
    ],
    ids=["gunicorn", "gunicorn --preload", "celery"],
)
def test_gunicorn_and_celery_name_the_missing_value_without_a_traceback(start, command):
    result = start(command, _without("WECHAT_OFFICIAL_ACCOUNT_SECRET"))

    assert result.returncode != 0
    # Once: gunicorn stops rather than restarting a worker that cannot load.
    assert result.stderr.count(MISSING_LINES["WECHAT_OFFICIAL_ACCOUNT_SECRET"] + "\n") == 1
    assert "DJANGO_SECRET_KEY" not in result.stderr
    assert "Traceback" not in result.stderr


def test_production_with_secrets_passes_the_deploy_checks(start):
    result = start(_manage("check", "--deploy", "--fail-level", "WARNING"), PRODUCTION_ENVIRONMENT)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    assert "oa-secret" not in result.stdout + result.stderr


def test_production_calls_wechats_real_hosts_by_default(start):
    result = start(_manage("shell", "--no-imports", "-c", PRINT_BASE_URLS), PRODUCTION_ENVIRONMENT)

    assert result.returncode == 0, result.stderr
    # secapi/ on WeChat Pay's own host, its certificate checked against the system's CAs.
    assert result.stdout.split() == [
        "https://api.weixin.qq.com/",
        "https://api.mch.weixin.qq.com/",
        "https://api.mch.weixin.qq.com/",
        "None",
    ]


def test_a_loopback_base_url_is_refused_in_production(start):
    result = start(_manage("check"), {**PRODUCTION_ENVIRONMENT, "WECHAT_API_BASE_URL": "http://127.0.0.1:8900/"})

    assert result.returncode == 1
    assert result.stderr == (
        "WECHAT_API_BASE_URL=http://127.0.0.1:8900/ is a loopback address, not WeChat: production must not call "
        "a sandbox; set WECHAT_ALLOW_PRIVATE_BASE_URL=true to allow it (staging against the sandbox).\n"
    )


def test_every_problem_is_reported_at_once_one_line_each(start):
    environment = {
        **PRODUCTION_ENVIRONMENT,
        "WECHAT_API_BASE_URL": "http://api.weixin.qq.com",
        "WECHAT_PAY_API_BASE_URL": "https://169.254.169.254",
        "WECHAT_TOKEN_ENDPOINT": "fast",
    }

    result = start(_manage("check"), environment)

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "WECHAT_API_BASE_URL=http://api.weixin.qq.com/ is not https: WeChat's APIs are called over TLS only; "
        "set WECHAT_ALLOW_PRIVATE_BASE_URL=true to allow it (staging against the sandbox).",
        "WECHAT_PAY_API_BASE_URL=https://169.254.169.254/ is a link-local address, not WeChat: production must "
        "not call a sandbox; set WECHAT_ALLOW_PRIVATE_BASE_URL=true to allow it (staging against the sandbox).",
        "WECHAT_TOKEN_ENDPOINT must be 'stable' or 'classic', not 'fast'.",
    ]


def test_the_opt_in_lets_staging_call_the_sandbox(start):
    environment = {
        **PRODUCTION_ENVIRONMENT,
        "WECHAT_API_BASE_URL": "http://127.0.0.1:8900",
        "WECHAT_PAY_API_BASE_URL": "http://10.0.0.7:8900/",
        "WECHAT_ALLOW_PRIVATE_BASE_URL": "true",
    }

    result = start(_manage("shell", "--no-imports", "-c", PRINT_BASE_URLS), environment)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["http://127.0.0.1:8900/", "http://10.0.0.7:8900/", "http://10.0.0.7:8900/", "None"]


def test_a_base_url_that_is_not_a_url_is_refused_even_in_development(start):
    result = start(_manage("check"), {"DJANGO_DEBUG": "true", "WECHAT_API_BASE_URL": "api.weixin.qq.com"})

    assert result.returncode == 1
    assert result.stderr == (
        "WECHAT_API_BASE_URL='api.weixin.qq.com/' is not an http(s) URL such as https://api.weixin.qq.com/.\n"
    )


@pytest.mark.parametrize("concurrency", ["0", "65"])
def test_a_follower_sync_concurrency_out_of_range_is_refused(start, concurrency):
    result = start(_manage("check"), {"DJANGO_DEBUG": "true", "FOLLOWER_SYNC_CONCURRENCY": concurrency})

    assert result.returncode == 1
    assert result.stderr == f"FOLLOWER_SYNC_CONCURRENCY must be 1 to 64, not {concurrency}.\n"


def test_development_reads_the_env_file_before_choosing_the_var_dir(start, tmp_path):
    env_file = tmp_path / "staging.env"
    var_dir = tmp_path / "from-env-file"
    env_file.write_text(
        f"DJANGO_DEBUG=true\nDJANGO_VAR_DIR={var_dir}\nWECHAT_SANDBOX_PORT=8911\nWECHAT_HTTP_TIMEOUT=9\n"
    )
    show = (
        "from django.conf import settings as s; "
        "print(s.VAR_DIR, s.DATABASES['default']['NAME'], s.WECHAT_API_BASE_URL, s.WECHAT_HTTP_TIMEOUT)"
    )

    # The process environment wins over the file: WECHAT_HTTP_TIMEOUT comes from it.
    environment = {"DJANGO_ENV_FILE": str(env_file), "DJANGO_VAR_DIR": None, "WECHAT_HTTP_TIMEOUT": "3"}
    result = start(_manage("shell", "--no-imports", "-c", show), environment)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(var_dir), str(var_dir / "db.sqlite3"), "http://127.0.0.1:8911/", "3.0"]


def test_a_missing_env_file_is_refused(start, tmp_path):
    result = start(_manage("check"), {"DJANGO_DEBUG": "true", "DJANGO_ENV_FILE": str(tmp_path / "nowhere.env")})

    assert result.returncode == 1
    assert result.stderr == f"DJANGO_ENV_FILE={tmp_path / 'nowhere.env'} does not exist.\n"


@pytest.mark.parametrize(
    "host, kind",
    [
        ("localhost", "loopback"),
        ("sandbox.localhost", "loopback"),
        ("127.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("0x7f000001", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("192.168.1.10", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "private"),
        ("100.64.0.1", "non-public"),
        ("api.weixin.qq.com", None),
        ("101.226.90.58", None),
        ("2400:da00::6666", None),
    ],
)
def test_non_public_addresses_are_recognised(host, kind):
    assert non_public_address_kind(host) == kind


@pytest.mark.parametrize(
    "notify_url", ["/wechat/pay/notify/", "https://shop.example.com/wechat/pay/notify/?order=1", "ftp://shop/"]
)
def test_a_notify_url_wechat_pay_cannot_post_to_is_refused(start, notify_url):
    result = start(_manage("check"), {**PRODUCTION_ENVIRONMENT, "WECHAT_PAY_NOTIFY_URL": notify_url})

    assert result.returncode == 1
    assert result.stderr.startswith(f"WECHAT_PAY_NOTIFY_URL={notify_url}") or f"{notify_url!r}" in result.stderr


def test_development_reads_the_sandbox_certificates_where_the_sandbox_writes_them(start, tmp_path):
    show = (
        "from django.conf import settings as s; print(s.WECHAT_PAY_SECAPI_BASE_URL, s.WECHAT_SANDBOX_TLS_DIR, "
        "s.WECHAT_PAY_CA_BUNDLE, s.WECHAT_PAY_CERT_PATH, s.WECHAT_PAY_KEY_PATH)"
    )

    result = start(
        _manage("shell", "--no-imports", "-c", show), {"DJANGO_DEBUG": "true", "WECHAT_SANDBOX_PORT": "8911"}
    )

    assert result.returncode == 0, result.stderr
    tls_dir = tmp_path / "var" / "wechat-sandbox-tls"
    assert result.stdout.split() == [
        "https://127.0.0.1:8912/",
        str(tls_dir),
        str(tls_dir / "ca.pem"),
        str(tls_dir / "merchant-10000100-cert.pem"),
        str(tls_dir / "merchant-10000100-key.pem"),
    ]


@pytest.mark.parametrize(
    "weak, line",
    [
        (
            {"DJANGO_SECRET_KEY": "short-but-set-0123456789"},
            "DJANGO_SECRET_KEY is 24 characters: production needs at least 50, long and random.",
        ),
        (
            {"DJANGO_ALLOWED_HOSTS": "*"},
            "DJANGO_ALLOWED_HOSTS=* answers any Host header: name this site's host names instead.",
        ),
        (
            {"DJANGO_ALLOWED_HOSTS": "shop.example.com,*"},
            "DJANGO_ALLOWED_HOSTS=* answers any Host header: name this site's host names instead.",
        ),
        (
            {"WECHAT_PAY_API_KEY": "pay-api-key"},
            "WECHAT_PAY_API_KEY is 11 characters: WeChat Pay's API key is exactly 32, as set in the merchant platform.",
        ),
        (
            {"WECHAT_PAY_NOTIFY_URL": "http://shop.example.com/wechat/pay/notify/"},
            "WECHAT_PAY_NOTIFY_URL=http://shop.example.com/wechat/pay/notify/ is not https: production receives "
            "payment results over TLS only.",
        ),
        (
            {"WECHAT_PAY_NOTIFY_URL": "https://127.0.0.1/wechat/pay/notify/"},
            "WECHAT_PAY_NOTIFY_URL=https://127.0.0.1/wechat/pay/notify/ is a loopback address: WeChat Pay posts "
            "from the internet, to this site's public host.",
        ),
        (
            {"WECHAT_PAY_REFUND_NOTIFY_URL": "https://10.1.2.3/wechat/pay/refund-notify/"},
            "WECHAT_PAY_REFUND_NOTIFY_URL=https://10.1.2.3/wechat/pay/refund-notify/ is a private address: "
            "WeChat Pay posts from the internet, to this site's public host.",
        ),
    ],
    ids=[
        "short-secret-key",
        "any-host",
        "any-host-among-others",
        "api-key-length",
        "http-notify",
        "loopback-notify",
        "private-refund-notify",
    ],
)
def test_production_refuses_a_weak_value_in_one_line(start, weak, line):
    result = start(_manage("check"), {**PRODUCTION_ENVIRONMENT, **weak})

    assert result.returncode == 1
    assert result.stderr == line + "\n"
    assert "Traceback" not in result.stderr


def test_production_refuses_certificate_files_that_are_missing_or_not_a_pair(
    start, merchant_certificate_files, tmp_path
):
    merchant, other_merchant = merchant_certificate_files
    missing = str(tmp_path / "nowhere-cert.pem")

    absent = start(_manage("check"), {**PRODUCTION_ENVIRONMENT, "WECHAT_PAY_CERT_PATH": missing})
    not_a_pair = start(_manage("check"), {**PRODUCTION_ENVIRONMENT, "WECHAT_PAY_KEY_PATH": other_merchant.key_path})
    swapped = start(
        _manage("check"),
        {
            **PRODUCTION_ENVIRONMENT,
            "WECHAT_PAY_CERT_PATH": merchant.key_path,
            "WECHAT_PAY_KEY_PATH": merchant.cert_path,
        },
    )

    assert absent.returncode == not_a_pair.returncode == swapped.returncode == 1
    assert absent.stderr == f"WECHAT_PAY_CERT_PATH={missing} cannot be read: No such file or directory.\n"
    assert not_a_pair.stderr == (
        f"WECHAT_PAY_KEY_PATH={other_merchant.key_path} is not the key of the certificate "
        f"WECHAT_PAY_CERT_PATH={merchant.cert_path}.\n"
    )
    assert (
        swapped.stderr == f"WECHAT_PAY_CERT_PATH={merchant.key_path} is not a PEM certificate (apiclient_cert.pem).\n"
    )
    # The key file's content is never echoed back.
    assert "PRIVATE KEY" not in absent.stderr + not_a_pair.stderr + swapped.stderr
