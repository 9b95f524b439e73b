import pytest
from django.core.cache import cache

from wechat.sandbox.client import SandboxClient
from wechat.sandbox.server import sandbox_apps_from_settings, start_in_thread


@pytest.fixture(autouse=True)
def _empty_cache():
    """Tokens, locks and throttle counters must not leak from one test to the next."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def sandbox_server():
    """One WeChat sandbox on a free loopback port for the whole run, reached over real HTTP."""
    running = start_in_thread(apps=sandbox_apps_from_settings())
    yield running
    running.stop()


@pytest.fixture
def sandbox(sandbox_server, settings) -> SandboxClient:
    """The sandbox with fresh state, and our settings pointed at it."""
    settings.WECHAT_API_BASE_URL = sandbox_server.url
    settings.WECHAT_PAY_API_BASE_URL = sandbox_server.url
    client = SandboxClient(sandbox_server.url)
    client.reset()
    return client
