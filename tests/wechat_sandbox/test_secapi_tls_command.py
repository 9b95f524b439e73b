"""make demo's wiring: `manage.py wechat_sandbox` writes its CA and merchant certificate, and a process on the
development settings alone (as the demo's web server and worker) finds them and refunds over TLS.

微信支付 V2 开发文档, 安全规范 / 证书使用: secapi/ calls (申请退款) need the merchant's API certificate.
"""

import os
import socket
import subprocess
import sys
import time

import pytest
from django.conf import settings

OUR_PREFIXES = ("DJANGO_", "WECHAT_", "CELERY_", "DATABASE_", "CACHE_URL")

REFUND_AS_THE_DEMO_DOES = """
from datetime import timedelta
from django.conf import settings
from django.utils import timezone
from wechat.pay.gateway import payment_gateway
from wechat_sandbox.client import SandboxClient

gateway = payment_gateway()
gateway.prepay(out_trade_no="DEMO1", total_fee=3990, openid="o-demo", body="Mug", notify_url="http://127.0.0.1:9/",
               time_expire=timezone.now() + timedelta(minutes=30), client_ip="127.0.0.1")
SandboxClient(settings.WECHAT_PAY_API_BASE_URL).pay_order("DEMO1")
result = gateway.refund(out_trade_no="DEMO1", out_refund_no="DEMO1R01", total_fee=3990, refund_fee=1000)
print(settings.WECHAT_PAY_SECAPI_BASE_URL, result.refund_fee, bool(result.refund_id))
"""

PAY_V3_AS_THE_DEMO_DOES = """
import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from django.conf import settings
from django.utils import timezone
from wechat.pay.gateway import merchant_config, payment_gateway

issued = json.loads((settings.WECHAT_SANDBOX_TLS_DIR / f"merchant-{settings.WECHAT_PAY_MCH_ID}-v3.json").read_text())
config = replace(
    merchant_config(),
    version="v3",
    private_key=Path(issued["private_key_path"]).read_text(),
    certificate_serial=issued["certificate_serial"],
    apiv3_key=issued["apiv3_key"],
    wechatpay_public_key=Path(issued["wechatpay_public_key_path"]).read_text(),
    wechatpay_public_key_id=issued["wechatpay_public_key_id"],
)
gateway = payment_gateway(config)
gateway.prepay(out_trade_no="DEMOV3", total_fee=3990, openid="o-demo", body="Mug", notify_url="http://127.0.0.1:9/",
               time_expire=timezone.now() + timedelta(minutes=30), client_ip="127.0.0.1")
print(settings.WECHAT_PAY_V3_BASE_URL, gateway.order_query("DEMOV3").trade_state)
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def development_environment(tmp_path) -> dict[str, str]:
    empty_env_file = tmp_path / "empty.env"
    empty_env_file.write_text("")
    clean = {key: value for key, value in os.environ.items() if not key.startswith(OUR_PREFIXES)}
    return {
        **clean,
        "DJANGO_DEBUG": "true",
        "DJANGO_ENV_FILE": str(empty_env_file),
        "DJANGO_VAR_DIR": str(tmp_path / "var"),
        "WECHAT_SANDBOX_PORT": str(free_port()),
        "WECHAT_SANDBOX_TLS_PORT": str(free_port()),
        "WECHAT_SANDBOX_V3_PORT": str(free_port()),
    }


def test_the_sandbox_command_writes_the_certificates_the_development_settings_refund_with(
    development_environment, tmp_path
):
    sandbox = subprocess.Popen(
        [sys.executable, "manage.py", "wechat_sandbox"],
        cwd=settings.BASE_DIR,
        env=development_environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        output = ""
        while "Ctrl-C stops it." not in output and time.monotonic() < deadline and sandbox.poll() is None:
            output += sandbox.stdout.readline()
        assert "Ctrl-C stops it." in output, output
        tls_dir = tmp_path / "var" / "wechat-sandbox-tls"
        assert f"secapi/ over TLS at https://127.0.0.1:{development_environment['WECHAT_SANDBOX_TLS_PORT']}/" in output
        assert {"ca.pem", "merchant-10000100-cert.pem", "merchant-10000100-key.pem"} <= {
            path.name for path in tls_dir.iterdir()
        }
        assert oct((tls_dir / "merchant-10000100-key.pem").stat().st_mode & 0o777) == "0o600"

        refund = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", REFUND_AS_THE_DEMO_DOES],
            cwd=settings.BASE_DIR,
            env=development_environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=20)

    assert refund.returncode == 0, refund.stderr
    tls_port = development_environment["WECHAT_SANDBOX_TLS_PORT"]
    assert refund.stdout.split() == [f"https://127.0.0.1:{tls_port}/", "1000", "True"]


def test_a_merchant_registered_later_gets_its_certificate_and_the_tls_description_names_it(sandbox, sandbox_server):
    import requests

    sandbox.register_merchant(mch_id="1900000109", api_key="b" * 32, appid=settings.WECHAT_MINI_PROGRAM_APPID)

    tls = requests.get(f"{sandbox_server.url}sandbox/tls", timeout=10).json()

    assert tls["secapi_url"] == sandbox_server.secapi_url and tls["secapi_url"].startswith("https://127.0.0.1:")
    assert tls["ca_path"] == sandbox_server.tls.ca_path
    certificate = tls["merchants"]["1900000109"]
    assert os.path.exists(certificate["cert_path"]) and os.path.exists(certificate["key_path"])
    assert set(tls["merchants"]) == {settings.WECHAT_PAY_MCH_ID, "1900000109"}


def test_the_sandbox_command_issues_the_v3_keys_the_development_settings_pay_with(development_environment, tmp_path):
    sandbox = subprocess.Popen(
        [sys.executable, "manage.py", "wechat_sandbox"],
        cwd=settings.BASE_DIR,
        env=development_environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    v3_port = development_environment["WECHAT_SANDBOX_V3_PORT"]
    try:
        deadline = time.monotonic() + 30
        output = ""
        while "Ctrl-C stops it." not in output and time.monotonic() < deadline and sandbox.poll() is None:
            output += sandbox.stdout.readline()
        assert f"WeChat Pay APIv3 over HTTPS at https://127.0.0.1:{v3_port}/" in output, output
        tls_dir = tmp_path / "var" / "wechat-sandbox-tls"
        stem = "merchant-10000100-v3"
        assert {f"{stem}-apiclient_key.pem", f"{stem}-apiclient_cert.pem", f"{stem}-pub_key.pem", f"{stem}.json"} <= {
            path.name for path in tls_dir.iterdir()
        }
        assert oct((tls_dir / f"{stem}-apiclient_key.pem").stat().st_mode & 0o777) == "0o600"
        assert oct((tls_dir / f"{stem}.json").stat().st_mode & 0o777) == "0o600"
        paid = subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", PAY_V3_AS_THE_DEMO_DOES],
            cwd=settings.BASE_DIR,
            env=development_environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=20)

    assert paid.returncode == 0, paid.stderr
    assert paid.stdout.split() == [f"https://127.0.0.1:{v3_port}/", "NOTPAY"]
