"""The sandbox's WeChat Pay APIv3 notifications, checked against the documents with `cryptography` alone.

A small HTTP server plays the merchant's notify_url and keeps what it received: the Wechatpay-* headers
must verify with WeChat Pay's public key (签名验证: "TS\\nNONCE\\nBODY\\n", within 5 minutes), the resource
must decrypt with the merchant's APIv3 key (AEAD_AES_256_GCM, 证书和回调报文解密) into the transaction or
refund the documents describe (支付成功回调通知, 退款结果通知), and only 200/204 ends the retries.
"""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.wechat_sandbox.test_pay_v3 import appid, merchant, new_order_number  # noqa: F401 - fixtures


class NotifyUrl:
    """The merchant's notify_url: answers each POST with the next status of `answers` (then the last), keeps them."""

    def __init__(self, answers: list[int]):
        self.answers = answers
        self.received: list[tuple[dict[str, str], bytes]] = []
        notify_url = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                notify_url.received.append((dict(self.headers), body))
                status = notify_url.answers[min(len(notify_url.received), len(notify_url.answers)) - 1]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/wechat/pay/v3/notify/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 10
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"the sandbox posted {len(self.received)} of {count}"
            time.sleep(0.05)


@pytest.fixture
def notify_url():
    receiver = NotifyUrl([204])
    yield receiver
    receiver.server.shutdown()


def _verified(v3_merchant, headers: dict[str, str], body: bytes) -> None:
    timestamp, nonce = headers["Wechatpay-Timestamp"], headers["Wechatpay-Nonce"]
    assert abs(time.time() - int(timestamp)) < 300
    assert headers["Wechatpay-Serial"] == v3_merchant.issued["wechatpay_public_key_id"]
    v3_merchant.wechatpay_public_key.verify(
        base64.b64decode(headers["Wechatpay-Signature"]),
        f"{timestamp}\n{nonce}\n".encode() + body + b"\n",
        padding.PKCS1v15(),
        hashes.SHA256(),
    )


def _opened(v3_merchant, body: bytes) -> tuple[dict, dict]:
    envelope = json.loads(body)
    resource = envelope["resource"]
    assert (resource["algorithm"], len(resource["nonce"])) == ("AEAD_AES_256_GCM", 12)
    plain = AESGCM(v3_merchant.issued["apiv3_key"].encode()).decrypt(
        resource["nonce"].encode(), base64.b64decode(resource["ciphertext"]), resource["associated_data"].encode()
    )
    return envelope, json.loads(plain)


def _paid(v3_merchant, app_id: str, sandbox, notify_url) -> str:
    out_trade_no = new_order_number()
    body = v3_merchant.prepay_body(app_id, out_trade_no)
    body["notify_url"] = notify_url.url
    assert v3_merchant.call("POST", "/v3/pay/transactions/jsapi", body).status_code == 200
    sandbox.pay_order(out_trade_no, mch_id=v3_merchant.mch_id)
    return out_trade_no


def test_a_paid_v3_order_is_notified_signed_and_encrypted_as_documented(merchant, appid, sandbox, notify_url):  # noqa: F811
    out_trade_no = _paid(merchant, appid, sandbox, notify_url)
    notify_url.wait_for(1)

    [(headers, body)] = notify_url.received
    _verified(merchant, headers, body)
    envelope, transaction = _opened(merchant, body)
    assert headers["Content-Type"] == "application/json"
    assert (envelope["event_type"], envelope["resource_type"], envelope["resource"]["original_type"]) == (
        "TRANSACTION.SUCCESS",
        "encrypt-resource",
        "transaction",
    )
    assert envelope["create_time"].endswith("+08:00")
    order = next(order for order in sandbox.pay_orders() if order["out_trade_no"] == out_trade_no)
    assert transaction["out_trade_no"] == out_trade_no
    assert (transaction["appid"], transaction["mchid"], transaction["trade_state"]) == (
        appid,
        merchant.mch_id,
        "SUCCESS",
    )
    assert transaction["transaction_id"] == order["transaction_id"]
    assert transaction["amount"] == {"total": 3990, "payer_total": 3990, "currency": "CNY", "payer_currency": "CNY"}
    assert transaction["success_time"].endswith("+08:00")
    wait = time.monotonic() + 5
    while sandbox.outbox("delivered") == [] and time.monotonic() < wait:
        time.sleep(0.05)
    assert sandbox.outbox("delivered")[0]["policy"] == "pay_notification_v3"


def test_until_answered_200_or_204_it_comes_again_on_the_schedule_signed_afresh(merchant, appid, sandbox):  # noqa: F811
    notify_url = NotifyUrl([500, 400, 200])
    try:
        _paid(merchant, appid, sandbox, notify_url)
        notify_url.wait_for(1)
        sandbox.advance_clock(30)  # the retries at 15 s and 30 s

        notify_url.wait_for(3)
        [delivery] = sandbox.outbox()
        assert delivery["state"] == "delivered"
        assert [attempt["http_status"] for attempt in delivery["attempts"]] == [500, 400, 200]
        bodies = {body for _, body in notify_url.received}
        assert len(bodies) == 1  # the same notification each time,
        nonces = {headers["Wechatpay-Nonce"] for headers, _ in notify_url.received}
        assert len(nonces) == 3  # signed anew at each attempt
        for headers, body in notify_url.received:
            _verified(merchant, headers, body)
    finally:
        notify_url.server.shutdown()


def test_sent_again_with_a_bad_signature_or_changed_fields(merchant, appid, sandbox, notify_url):  # noqa: F811
    out_trade_no = _paid(merchant, appid, sandbox, notify_url)
    notify_url.wait_for(1)

    sandbox.send_pay_notification(out_trade_no, mch_id=merchant.mch_id, bad_signature=True)
    sandbox.send_pay_notification(
        out_trade_no, mch_id=merchant.mch_id, fields={"amount.total": "1", "amount.currency": "USD", "mchid": "1"}
    )
    notify_url.wait_for(3)

    _, (forged_headers, forged), (changed_headers, changed) = notify_url.received
    with pytest.raises(InvalidSignature):
        _verified(merchant, forged_headers, forged)
    _verified(merchant, changed_headers, changed)
    _, transaction = _opened(merchant, changed)
    assert (transaction["amount"]["total"], transaction["amount"]["currency"], transaction["mchid"]) == (1, "USD", "1")


def test_a_v3_refund_is_notified_when_it_goes_through(merchant, appid, sandbox, notify_url):  # noqa: F811
    out_trade_no = _paid(merchant, appid, sandbox, notify_url)
    notify_url.wait_for(1)
    refund = merchant.call(
        "POST",
        "/v3/refund/domestic/refunds",
        {
            "out_trade_no": out_trade_no,
            "out_refund_no": out_trade_no + "R1",
            "notify_url": notify_url.url.replace("/notify/", "/refund-notify/"),
            "amount": {"refund": 1000, "total": 3990, "currency": "CNY"},
        },
    )
    assert refund.status_code == 200, refund.text

    time.sleep(0.3)
    assert len(notify_url.received) == 1  # PROCESSING: nothing yet
    sandbox.advance_clock(10)
    notify_url.wait_for(2)

    headers, body = notify_url.received[1]
    _verified(merchant, headers, body)
    envelope, refunded = _opened(merchant, body)
    assert (envelope["event_type"], envelope["resource"]["original_type"]) == ("REFUND.SUCCESS", "refund")
    assert (refunded["out_refund_no"], refunded["refund_status"], refunded["mchid"]) == (
        out_trade_no + "R1",
        "SUCCESS",
        merchant.mch_id,
    )
    assert refunded["refund_id"] == refund.json()["refund_id"]
    assert refunded["amount"] == {"total": 3990, "refund": 1000, "payer_total": 3990, "payer_refund": 1000}


@pytest.mark.parametrize(
    ("chosen", "status", "event_type", "summary"),
    [
        ("CHANGE", "ABNORMAL", "REFUND.ABNORMAL", "退款异常"),
        ("REFUNDCLOSE", "CLOSED", "REFUND.CLOSED", "退款关闭"),
        ("ABNORMAL", "ABNORMAL", "REFUND.ABNORMAL", "退款异常"),
        ("CLOSED", "CLOSED", "REFUND.CLOSED", "退款关闭"),
    ],
)
def test_a_v3_refund_can_end_abnormal_or_closed_moving_no_money(
    merchant,  # noqa: F811
    appid,  # noqa: F811
    sandbox,
    notify_url,
    chosen,
    status,
    event_type,
    summary,
):
    # 查询单笔退款 status / 退款结果通知 refund_status: ABNORMAL 退款异常, CLOSED 退款关闭 (no success_time);
    # chosen through POST /sandbox/pay/refund-outcome in v2's words or v3's.
    out_trade_no = _paid(merchant, appid, sandbox, notify_url)
    notify_url.wait_for(1)
    sandbox.set_refund_outcome(merchant.mch_id, chosen)
    body = {
        "out_trade_no": out_trade_no,
        "out_refund_no": out_trade_no + "R1",
        "notify_url": notify_url.url.replace("/notify/", "/refund-notify/"),
        "amount": {"refund": 3990, "total": 3990, "currency": "CNY"},
    }
    applied = merchant.call("POST", "/v3/refund/domestic/refunds", body)
    assert (applied.status_code, applied.json()["status"]) == (200, "PROCESSING")
    sandbox.advance_clock(10)
    notify_url.wait_for(2)

    queried = merchant.call("GET", f"/v3/refund/domestic/refunds/{out_trade_no}R1").json()
    assert queried["status"] == status and "success_time" not in queried
    headers, posted = notify_url.received[1]
    _verified(merchant, headers, posted)
    envelope, refunded = _opened(merchant, posted)
    assert (envelope["event_type"], envelope["summary"], envelope["resource"]["original_type"]) == (
        event_type,
        summary,
        "refund",
    )
    assert (refunded["out_refund_no"], refunded["refund_status"]) == (out_trade_no + "R1", status)
    assert "success_time" not in refunded
    # No money went back: the whole amount is refundable again, and the next refund succeeds as usual.
    again = merchant.call("POST", "/v3/refund/domestic/refunds", {**body, "out_refund_no": out_trade_no + "R2"})
    assert again.status_code == 200, again.text
    sandbox.advance_clock(10)
    assert merchant.call("GET", f"/v3/refund/domestic/refunds/{out_trade_no}R2").json()["status"] == "SUCCESS"
