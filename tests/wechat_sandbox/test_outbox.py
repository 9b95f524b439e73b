"""The sandbox's outbox over real HTTP: pushes to an Official Account's server and their retries, on the sandbox clock.

Rules checked here and where they come from:
- 公众号文档, 基础消息能力 / 接入概述: signature = sha1 of token, timestamp and nonce sorted and joined.
- 公众号文档, 消息加解密说明: compatible and safe modes, msg_signature, AES-256-CBC with the EncodingAESKey.
- 公众号文档, 基础消息能力 / 接收事件推送: no answer within five seconds → the request is made again, three retries.
- 微信支付 V2 开发文档, 支付结果通知: notified again at 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h
  until the merchant answers return_code SUCCESS.
The product verifies pushes with wechatpy; so do these tests, as an implementation independent of the sandbox's.
"""

import threading
import time
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field

import pytest
import requests
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import check_signature
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from wechat_sandbox.outbox import POLICIES, Outbox

OA_APPID = "wxoutboxtest000001"
TOKEN = "callbackToken123"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeChat's EncodingAESKey
PAY_SUCCESS = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
PAY_FAIL = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[busy]]></return_msg></xml>"
TIMEOUT = 10


@dataclass
class Received:
    query: dict[str, str]
    body: bytes


@dataclass
class CallbackReceiver:
    """An HTTP server standing for our product's callback endpoint: records each request, answers as told."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, str]] = field(default_factory=list)  # consumed in order; then 200 "success"
    hold: threading.Event | None = None  # when set, each request waits for it

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.received.append(Received(query=request.args.to_dict(), body=request.get_data()))
        if self.hold is not None:
            self.hold.wait(TIMEOUT)
        status, body = self.answers.pop(0) if self.answers else (200, "success")
        return Response(body, status=status)(environ, start_response)

    def wait_for(self, count: int) -> list[Received]:
        deadline = time.monotonic() + TIMEOUT
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(self.received) >= count, f"expected {count} pushes, got {len(self.received)}"
        return self.received


@pytest.fixture
def receiver():
    receiver = CallbackReceiver()
    server = make_server("127.0.0.1", 0, receiver, threaded=True)
    receiver.url = f"http://127.0.0.1:{server.port}/wechat/oa/{OA_APPID}/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield receiver
    if receiver.hold is not None:
        receiver.hold.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def account(sandbox, receiver):
    def register(mode: str, url: str | None = None) -> None:
        callback = {"url": url or receiver.url, "token": TOKEN, "mode": mode, "encoding_aes_key": AES_KEY}
        sandbox.register_app(OA_APPID, "outbox-test-secret", "official_account", callback=callback)

    yield register
    sandbox.remove_app(OA_APPID)


def send_event(url: str, **fields) -> requests.Response:
    body = {"appid": OA_APPID, "openid": "o-follower-1", "event": "subscribe", **fields}
    return requests.post(f"{url}sandbox/official-account/events", json=body, timeout=TIMEOUT)


def outbox(url: str, state: str | None = None) -> list[dict]:
    params = {"state": state} if state else None
    return requests.get(f"{url}sandbox/outbox", params=params, timeout=TIMEOUT).json()["deliveries"]


def fields_of(xml: bytes | str) -> dict[str, str]:
    return {element.tag: element.text or "" for element in ElementTree.fromstring(xml)}


def test_a_plain_mode_event_arrives_signed_as_wechat_signs_it(sandbox_server, account, receiver):
    account("plain")

    answer = send_event(sandbox_server.url)

    assert answer.status_code == 201
    push = receiver.wait_for(1)[0]
    query = push.query
    check_signature(TOKEN, query["signature"], query["timestamp"], query["nonce"])  # raises if wrong
    assert query["openid"] == "o-follower-1"
    assert "encrypt_type" not in query
    message = fields_of(push.body)
    assert message["MsgType"] == "event"
    assert message["Event"] == "subscribe"
    assert message["FromUserName"] == "o-follower-1"
    assert message["ToUserName"].startswith("gh_")
    assert abs(int(message["CreateTime"]) - time.time()) < 60


def test_a_safe_mode_event_is_encrypted_and_decrypts_with_the_accounts_key(sandbox_server, account, receiver):
    account("safe")

    send_event(sandbox_server.url, event="CLICK", event_key="MENU_NEW_ARRIVALS")

    push = receiver.wait_for(1)[0]
    wrapper = fields_of(push.body)
    assert set(wrapper) == {"ToUserName", "Encrypt"}
    assert push.query["encrypt_type"] == "aes"
    plain = WeChatCrypto(TOKEN, AES_KEY, OA_APPID).decrypt_message(
        push.body, push.query["msg_signature"], push.query["timestamp"], push.query["nonce"]
    )
    message = fields_of(plain)
    assert message["Event"] == "CLICK"
    assert message["EventKey"] == "MENU_NEW_ARRIVALS"


def test_a_compatible_mode_event_carries_plain_fields_beside_the_ciphertext(sandbox_server, account, receiver):
    account("compatible")

    send_event(sandbox_server.url)

    push = receiver.wait_for(1)[0]
    message = fields_of(push.body)
    assert message["Event"] == "subscribe"
    plain = WeChatCrypto(TOKEN, AES_KEY, OA_APPID).decrypt_message(
        push.body, push.query["msg_signature"], push.query["timestamp"], push.query["nonce"]
    )
    assert fields_of(plain)["Event"] == "subscribe"


def test_a_wrong_key_does_not_decrypt(sandbox_server, account, receiver):
    from wechatpy.exceptions import InvalidSignatureException

    account("safe")
    send_event(sandbox_server.url)
    push = receiver.wait_for(1)[0]

    with pytest.raises(InvalidSignatureException):
        WeChatCrypto("another-token", AES_KEY, OA_APPID).decrypt_message(
            push.body, push.query["msg_signature"], push.query["timestamp"], push.query["nonce"]
        )


def test_an_unanswered_push_is_retried_three_times_then_given_up(sandbox_server, account, receiver):
    account("plain")
    receiver.answers = [(500, "oops")] * 10

    send_event(sandbox_server.url)

    pushes = receiver.wait_for(4)
    deadline = time.monotonic() + TIMEOUT
    while not outbox(sandbox_server.url, "failed") and time.monotonic() < deadline:
        time.sleep(0.02)
    [delivery] = outbox(sandbox_server.url, "failed")
    assert [attempt["outcome"] for attempt in delivery["attempts"]] == ["refused"] * 4
    assert len({push.body for push in pushes}) == 1  # the same message each time
    time.sleep(0.3)
    assert len(receiver.received) == 4  # and nothing after giving up


def test_an_unreachable_server_counts_as_no_answer(sandbox_server, account, receiver):
    account("plain", url="http://127.0.0.1:9/")

    send_event(sandbox_server.url)
    requests.post(f"{sandbox_server.url}sandbox/outbox/deliver", timeout=TIMEOUT)

    deadline = time.monotonic() + TIMEOUT
    while not outbox(sandbox_server.url, "failed") and time.monotonic() < deadline:
        time.sleep(0.02)
    [delivery] = outbox(sandbox_server.url, "failed")
    assert {attempt["outcome"] for attempt in delivery["attempts"]} == {"unreachable"}


def test_delivery_happens_outside_the_state_lock(sandbox_server, account, receiver):
    account("plain")
    receiver.hold = threading.Event()

    send_event(sandbox_server.url)
    receiver.wait_for(1)  # the push is now waiting on our receiver

    started = time.monotonic()
    assert requests.get(f"{sandbox_server.url}sandbox/", timeout=TIMEOUT).status_code == 200
    assert outbox(sandbox_server.url, "delivering")
    assert time.monotonic() - started < 2
    receiver.hold.set()


def enqueue_pay_notification(sandbox_server, receiver) -> int:
    sandbox = sandbox_server.sandbox
    with sandbox.lock:
        delivery = sandbox.part(Outbox).enqueue(
            url=receiver.url,
            body="<xml><return_code>SUCCESS</return_code></xml>",
            content_type="text/xml",
            policy="pay_notification",
            description="payment of order 1",
            now=sandbox.now(),
        )
    return delivery.id


def test_pay_notifications_follow_wechats_schedule_on_the_sandbox_clock(sandbox, sandbox_server, receiver):
    receiver.answers = [(200, PAY_FAIL), (200, "not xml"), (200, PAY_SUCCESS)]
    enqueue_pay_notification(sandbox_server, receiver)
    requests.post(f"{sandbox_server.url}sandbox/outbox/deliver", timeout=TIMEOUT)
    assert len(receiver.wait_for(1)) == 1

    sandbox.advance_clock(14)
    assert len(receiver.received) == 1  # not due yet: 15 s after the first
    sandbox.advance_clock(1)
    assert len(receiver.received) == 2
    sandbox.advance_clock(15)

    assert len(receiver.received) == 3
    [delivery] = outbox(sandbox_server.url)
    assert delivery["state"] == "delivered"
    assert [attempt["outcome"] for attempt in delivery["attempts"]] == ["refused", "refused", "acknowledged"]
    sandbox.advance_clock(86400)
    assert len(receiver.received) == 3  # acknowledged: never again


def test_a_clock_jump_replays_every_retry_at_its_due_time(sandbox, sandbox_server, receiver):
    receiver.answers = [(200, PAY_FAIL)] * 20
    delivery_id = enqueue_pay_notification(sandbox_server, receiver)
    requests.post(f"{sandbox_server.url}sandbox/outbox/deliver", timeout=TIMEOUT)

    sandbox.advance_clock(25 * 3600)

    [delivery] = [entry for entry in outbox(sandbox_server.url) if entry["id"] == delivery_id]
    assert delivery["state"] == "failed"
    times = [attempt["at"] for attempt in delivery["attempts"]]
    gaps = [round(later - earlier) for earlier, later in zip(times, times[1:], strict=False)]
    assert gaps == list(POLICIES["pay_notification"].retry_delays)
    assert len(receiver.received) == 16  # 24 h 4 min of retries, then WeChat gives up


def test_bad_event_requests_are_refused_with_reasons(sandbox_server, sandbox, account):
    account("plain")

    assert send_event(sandbox_server.url, event="purchase").status_code == 400
    assert send_event(sandbox_server.url, appid="wxnobody").status_code == 400
    mini_program = [app["appid"] for app in sandbox.apps() if app["kind"] == "mini_program"][0]
    refused = send_event(sandbox_server.url, appid=mini_program)
    assert refused.status_code == 400
    assert "Official Accounts" in refused.json()["errmsg"]


def test_an_account_without_a_callback_cannot_be_pushed_to(sandbox_server, sandbox):
    official_account = [app for app in sandbox.apps() if app["kind"] == "official_account"][0]

    refused = send_event(sandbox_server.url, appid=official_account["appid"])

    assert refused.status_code == 400
    assert "no callback" in refused.json()["errmsg"]


def test_the_outbox_survives_a_snapshot(sandbox_server, account, receiver):
    account("plain")
    receiver.hold = threading.Event()
    send_event(sandbox_server.url)
    receiver.wait_for(1)  # held there: the delivery is under way

    with sandbox_server.sandbox.lock:
        original = sandbox_server.sandbox.part(Outbox).listing()
        snapshot = sandbox_server.sandbox.part(Outbox).to_snapshot()
    restored = Outbox.from_snapshot(snapshot)

    [before], [after] = original, restored.listing()
    assert after["state"] == "pending"  # under way when snapshotted: tried again after a restore
    assert {**after, "state": None} == {**before, "state": None}
    new = restored.enqueue(url="u", body="b", content_type="text/xml", policy="pay_notification", description="", now=0)
    assert new.id == before["id"] + 1
