"""WeChat Pay v2 refunds in the sandbox over real HTTP: apply, query, and the encrypted refund notification.

Rules checked here and where they come from (微信支付 V2 开发文档, JSAPI/小程序支付):
- 申请退款, 请求参数: out_refund_no "同一退款单号多次请求只退一笔"; total_fee, refund_fee in fen; 错误码 /
  WeChat's answers: refund_fee over total_fee return_code FAIL "invalid refund_fee"; other amounts for the same
  out_refund_no, or a total_fee not the order's, REFUND_FEE_MISMATCH; more than is left INVALID_REQUEST
  "refund_fee大于可退金额"; nothing left ERROR "订单已全额退款"; an unpaid order TRADE_STATE_ERROR; ORDERNOTEXIST.
- 查询订单: a refunded order's trade_state is REFUND (转入退款).
- 查询退款, 返回结果: refund_count, out_refund_no_$n, refund_id_$n, refund_fee_$n, refund_status_$n (PROCESSING,
  then SUCCESS) and refund_success_time_$n; 错误码 REFUNDNOTEXIST.
- 退款结果通知: return_code, appid, mch_id, nonce_str, req_info; 解密方式: base64 decode, key = lower-case hex
  md5 of the API key, AES-256-ECB with PKCS#7 padding, giving a <root> message. Repeated as 支付结果通知 until
  answered return_code SUCCESS.
"""

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.pay import WeChatPay

from tests.wechat_sandbox.pay_calls import (
    assert_refused,
    assert_signed,
    control,
    merchant,
    order_fields,
    parse,
    pay,
    pay_post,
)
from wechat_sandbox.client import SandboxControlError


def paid_order(url: str, out_trade_no: str, notify_url: str = "http://127.0.0.1:9/", total_fee: str = "3990") -> dict:
    pay_post(url, "pay/unifiedorder", order_fields(out_trade_no, notify_url=notify_url, total_fee=total_fee))
    pay(url, out_trade_no)
    return pay_post(url, "pay/orderquery", {"out_trade_no": out_trade_no})


def refund(url: str, out_trade_no: str, out_refund_no: str, refund_fee: int, total_fee: int = 3990, **more) -> dict:
    fields = {
        "out_trade_no": out_trade_no,
        "out_refund_no": out_refund_no,
        "total_fee": str(total_fee),
        "refund_fee": str(refund_fee),
        **more,
    }
    return pay_post(url, "secapi/pay/refund", fields)


def decrypt(req_info: str, api_key: str) -> dict[str, str]:
    key = hashlib.md5(api_key.encode()).hexdigest().encode()
    decryptor = Cipher(algorithms.AES(key), modes.ECB()).decryptor()
    padded = decryptor.update(base64.b64decode(req_info)) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    plain = unpadder.update(padded) + unpadder.finalize()
    assert plain.startswith(b"<root>")
    return parse(plain)


def test_a_refund_is_processing_then_succeeds_and_is_notified_encrypted(sandbox, sandbox_server, pay_receiver):
    url = sandbox_server.url
    order = paid_order(url, "ORDER1", notify_url=pay_receiver.url)
    pay_receiver.wait_for(1)  # the payment notification

    applied = refund(url, "ORDER1", "R1", 1000)

    assert applied["result_code"] == "SUCCESS", applied
    assert_signed(applied)
    assert applied["refund_fee"] == "1000" and applied["total_fee"] == "3990"
    assert applied["transaction_id"] == order["transaction_id"] and applied["refund_id"]
    assert pay_post(url, "pay/orderquery", {"out_trade_no": "ORDER1"})["trade_state"] == "REFUND"
    queried = pay_post(url, "pay/refundquery", {"out_refund_no": "R1"})
    assert queried["refund_status_0"] == "PROCESSING" and "refund_success_time_0" not in queried
    assert len(pay_receiver.received) == 1  # not notified yet

    sandbox.advance_clock(10)

    queried = pay_post(url, "pay/refundquery", {"out_trade_no": "ORDER1"})
    assert_signed(queried)
    assert queried["refund_count"] == "1" and queried["refund_status_0"] == "SUCCESS"
    assert queried["refund_id_0"] == applied["refund_id"] and queried["refund_fee_0"] == "1000"
    assert queried["refund_success_time_0"]
    notification = parse(pay_receiver.wait_for(2)[1].body)
    assert notification["return_code"] == "SUCCESS" and "sign" not in notification
    assert notification["appid"] == merchant()[2] and notification["mch_id"] == merchant()[0]
    info = decrypt(notification["req_info"], merchant()[1])
    assert info["out_refund_no"] == "R1" and info["refund_id"] == applied["refund_id"]
    assert info["refund_status"] == "SUCCESS" and info["refund_fee"] == "1000" and info["total_fee"] == "3990"
    assert info["out_trade_no"] == "ORDER1" and info["success_time"] == queried["refund_success_time_0"]
    # wechatpy, the product's client, reads it too.
    mch_id, key, appid = merchant()
    parsed = WeChatPay(appid=appid, api_key=key, mch_id=mch_id).parse_refund_notify_result(
        pay_receiver.received[1].body
    )
    assert parsed["refund_fee"] == 1000 and parsed["out_refund_no"] == "R1"


def test_a_refund_notify_url_parameter_wins_over_the_orders(sandbox, sandbox_server, pay_receiver):
    url = sandbox_server.url
    paid_order(url, "ORDER1")  # its notify_url goes nowhere

    refund(url, "ORDER1", "R1", 3990, notify_url=pay_receiver.url)
    sandbox.advance_clock(10)

    [push] = pay_receiver.wait_for(1)
    assert decrypt(parse(push.body)["req_info"], merchant()[1])["refund_fee"] == "3990"


def test_the_same_out_refund_no_is_one_refund(sandbox, sandbox_server):
    url = sandbox_server.url
    paid_order(url, "ORDER1")
    first = refund(url, "ORDER1", "R1", 1000)

    again = refund(url, "ORDER1", "R1", 1000)

    assert again["refund_id"] == first["refund_id"]
    assert control(url, "GET", "pay/refunds").json()["count"] == 1
    assert_refused(refund(url, "ORDER1", "R1", 1500), "REFUND_FEE_MISMATCH")


def test_refunds_never_exceed_what_was_paid(sandbox, sandbox_server):
    url = sandbox_server.url
    paid_order(url, "ORDER1")
    assert refund(url, "ORDER1", "R1", 2000)["result_code"] == "SUCCESS"

    over = refund(url, "ORDER1", "R2", 2000)

    assert_refused(over, "INVALID_REQUEST")
    assert over["err_code_des"] == "refund_fee大于可退金额"
    assert refund(url, "ORDER1", "R3", 1990)["result_code"] == "SUCCESS"
    full = refund(url, "ORDER1", "R4", 1)
    assert_refused(full, "ERROR")
    assert full["err_code_des"] == "订单已全额退款"
    queried = pay_post(url, "pay/refundquery", {"out_trade_no": "ORDER1"})
    assert queried["refund_count"] == "2" and queried["refund_fee"] == "3990"


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"refund_fee": "5000"}, ("FAIL", "invalid refund_fee")),
        ({"refund_fee": "0"}, ("FAIL", "invalid refund_fee")),
        ({"refund_fee": "1.5"}, ("FAIL", "invalid refund_fee")),
        ({"total_fee": "4990", "refund_fee": "100"}, "REFUND_FEE_MISMATCH"),
        ({"out_trade_no": "NOSUCH"}, "ORDERNOTEXIST"),
        ({"out_trade_no": "UNPAID"}, "TRADE_STATE_ERROR"),
        ({"out_refund_no": None}, "LACK_PARAMS"),
    ],
)
def test_bad_refunds_are_refused_as_wechat_refuses_them(sandbox, sandbox_server, fields, expected):
    url = sandbox_server.url
    paid_order(url, "ORDER1")
    pay_post(url, "pay/unifiedorder", order_fields("UNPAID"))
    request = {"out_trade_no": "ORDER1", "out_refund_no": "R1", "total_fee": "3990", "refund_fee": "100", **fields}

    answer = pay_post(url, "secapi/pay/refund", request)

    if isinstance(expected, tuple):
        assert answer == {"return_code": expected[0], "return_msg": expected[1]}
    else:
        assert_refused(answer, expected)
    assert control(url, "GET", "pay/refunds").json()["count"] == 0


def test_refund_query_finds_refunds_by_each_key_and_refuses_unknown_ones(sandbox, sandbox_server):
    url = sandbox_server.url
    order = paid_order(url, "ORDER1")
    applied = refund(url, "ORDER1", "R1", 500)

    for by in (
        {"refund_id": applied["refund_id"]},
        {"out_refund_no": "R1"},
        {"transaction_id": order["transaction_id"]},
        {"out_trade_no": "ORDER1"},
    ):
        assert pay_post(url, "pay/refundquery", by)["out_refund_no_0"] == "R1", by
    assert_refused(pay_post(url, "pay/refundquery", {"out_refund_no": "NOSUCH"}), "REFUNDNOTEXIST")


def test_wechatpy_applies_and_queries_refunds_against_the_sandbox(sandbox, sandbox_server):
    url = sandbox_server.url
    paid_order(url, "ORDER1")
    mch_id, key, appid = merchant()
    certificate = sandbox_server.tls.merchant_certificate(mch_id)
    # wechatpy calls one host, with the certificate when it has one: the sandbox's TLS port serves every path.
    client = WeChatPay(
        appid=appid, api_key=key, mch_id=mch_id, mch_cert=certificate.cert_path, mch_key=certificate.key_path
    )
    client.API_BASE_URL = sandbox_server.secapi_url
    client._http.verify = sandbox_server.tls.ca_path
    client._http.trust_env = False  # else REQUESTS_CA_BUNDLE, if set, replaces the session's CA

    applied = client.refund.apply(total_fee=3990, refund_fee=3990, out_refund_no="R1", out_trade_no="ORDER1")

    assert applied["refund_fee"] == "3990"
    assert client.refund.query(out_refund_no="R1")["refund_status_0"] == "PROCESSING"


def test_refunds_survive_a_snapshot_without_the_key(sandbox, sandbox_server):
    url = sandbox_server.url
    paid_order(url, "ORDER1")
    refund(url, "ORDER1", "R1", 500)
    snapshot = sandbox.state()

    sandbox.reset()
    sandbox.restore_state(snapshot)

    assert merchant()[1] not in str(snapshot)
    [restored] = sandbox.pay_refunds()
    assert restored["out_refund_no"] == "R1" and restored["refund_fee"] == 500


@pytest.mark.parametrize("outcome", ["CHANGE", "REFUNDCLOSE"])
def test_a_refund_can_end_change_or_refundclose_moving_no_money(sandbox, sandbox_server, pay_receiver, outcome):
    """查询退款 / 退款结果通知 refund_status: CHANGE 退款异常, REFUNDCLOSE 退款关闭 (POST .../pay/refund-outcome)."""
    url = sandbox_server.url
    paid_order(url, "ORDER1", notify_url=pay_receiver.url)
    pay_receiver.wait_for(1)
    sandbox.set_refund_outcome(merchant()[0], outcome)

    refund(url, "ORDER1", "R1", 3990)
    processing = pay_post(url, "pay/refundquery", {"out_refund_no": "R1"})["refund_status_0"]
    sandbox.advance_clock(10)

    queried = pay_post(url, "pay/refundquery", {"out_refund_no": "R1"})
    info = decrypt(parse(pay_receiver.wait_for(2)[1].body)["req_info"], merchant()[1])
    assert processing == "PROCESSING"
    assert queried["refund_status_0"] == outcome and "refund_success_time_0" not in queried
    assert info["refund_status"] == outcome and "success_time" not in info
    # No money went back: the whole amount is refundable again, and the next refund succeeds as usual.
    again = refund(url, "ORDER1", "R2", 3990)
    sandbox.advance_clock(10)
    assert again["result_code"] == "SUCCESS", again
    assert pay_post(url, "pay/refundquery", {"out_refund_no": "R2"})["refund_status_0"] == "SUCCESS"
    with pytest.raises(SandboxControlError):
        sandbox.set_refund_outcome(merchant()[0], "LOST")
