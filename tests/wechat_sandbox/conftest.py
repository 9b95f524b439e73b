import threading

import pytest
from werkzeug.serving import make_server

from tests.wechat_sandbox.pay_calls import PAY_SUCCESS
from tests.wechat_sandbox.test_outbox import CallbackReceiver
from wechat_sandbox.server import SandboxApp, start_in_thread


@pytest.fixture
def url(sandbox, sandbox_server) -> str:
    return sandbox_server.url


@pytest.fixture
def own_sandbox():
    """A private sandbox, for tests that register or remove apps the shared one must keep as they are."""
    running = start_in_thread(apps=[SandboxApp(appid="wxmini", secret="mini-secret", kind="mini_program")])
    yield running
    running.stop()


@pytest.fixture
def pay_receiver():
    """Our product's notify endpoint, as a test server recording what WeChat Pay posts to it."""
    receiver = CallbackReceiver()
    server = make_server("127.0.0.1", 0, receiver, threaded=True)
    receiver.url = f"http://127.0.0.1:{server.port}/wechat/pay/notify/"
    receiver.answers = [(200, PAY_SUCCESS)] * 20
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
