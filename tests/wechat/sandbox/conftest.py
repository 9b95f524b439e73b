import pytest

from wechat.sandbox.server import SandboxApp, start_in_thread


@pytest.fixture
def url(sandbox, sandbox_server) -> str:
    return sandbox_server.url


@pytest.fixture
def own_sandbox():
    """A private sandbox, for tests that register or remove apps the shared one must keep as they are."""
    running = start_in_thread(apps=[SandboxApp(appid="wxmini", secret="mini-secret", kind="mini_program")])
    yield running
    running.stop()
