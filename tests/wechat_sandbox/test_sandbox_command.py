"""make demo's sandbox: `manage.py wechat_sandbox --followers N` starts the Official Account with N followers,
so the demo's mass sends reach someone (公众号文档, 用户管理 / 获取用户列表 answers them)."""

import subprocess
import sys
import time

from django.conf import settings

from tests.wechat_sandbox.test_secapi_tls_command import development_environment, free_port  # noqa: F401
from wechat_sandbox.client import SandboxClient


def test_the_demo_account_starts_with_the_followers_asked_for(development_environment):  # noqa: F811
    port = free_port()
    sandbox = subprocess.Popen(
        [sys.executable, "manage.py", "wechat_sandbox", "--port", str(port), "--followers", "25"],
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
        assert f"25 followers of {settings.WECHAT_OFFICIAL_ACCOUNT_APPID}" in output, output

        followers = SandboxClient(f"http://127.0.0.1:{port}/").followers(settings.WECHAT_OFFICIAL_ACCOUNT_APPID)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)

    assert followers["total"] == 25
