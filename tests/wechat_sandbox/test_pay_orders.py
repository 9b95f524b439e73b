"""WeChat Pay v2 orders in the sandbox over real HTTP: unified order, query, close, expiry, the payment notification.

Rules checked here and where they come from (微信支付 V2 开发文档, JSAPI/小程序支付):
- 统一下单, 请求参数: openid required for JSAPI, total_fee in fen (> 0), time_expire yyyyMMddHHmmss;
  返回结果: prepay_id, 有效期为2小时; 错误码: ORDERPAID, ORDERCLOSED, INVALID_REQUEST ("订单重入时，要求参数值与
  原请求一致", answered "201 商户订单号重复").
- 查询订单, 返回结果: trade_state SUCCESS / REFUND / NOTPAY / CLOSED / USERPAYING / PAYERROR, with transaction_id,
  time_end, total_fee once paid; by transaction_id or out_trade_no; 错误码 ORDERNOTEXIST.
- 统一下单, time_expire: "time_expire时间过短，刷卡至少1分钟，其他5分钟" (JSAPI: at least 5 minutes ahead).
- 关闭订单, 错误码: ORDERPAID for a paid order, ORDERCLOSED for a closed one;
  "订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟" (answered SYSTEMERROR, the documented "try again").
- 支付结果通知: posted to notify_url, signed with the order's sign type, repeated at 15s/15s/30s/3m/... until
  answered return_code SUCCESS; the same notification may arrive more than once.
"""

import json
from datetime import datetime, timedelta

import pytest
from django.conf import settings

from tests.wechat_sandbox.pay_calls import (
    BEIJING,
    PAY_FAIL,
    PAY_SUCCESS,
    assert_refused,
    assert_signed,
    beijing,
    control,
    merchant,
    order_fields,
    parse,
    pay,
    pay_post,
    signature_valid,
)


def unified_order(url, out_trade_no, sign_type="MD5", **overrides) -> dict[str, str]:
    return pay_post(url, "pay/unifiedorder", order_fields(out_trade_no, **overrides), sign_type=sign_type)


def query(url, **by) -> dict[str, str]:
    return pay_post(url, "pay/orderquery", by)


def test_a_jsapi_order_gets_a_prepay_id_and_the_same_one_again(sandbox, sandbox_server):
    url = sandbox_server.url
    first = unified_order(url, "ORDER1")

    assert first["result_code"] == "SUCCESS" and first["trade_type"] == "JSAPI", first
    assert first["prepay_id"].startswith("wx") and len(first["prepay_id"]) == 36
    assert first["appid"] == merchant()[2] and first["mch_id"] == merchant()[0]
    assert unified_order(url, "ORDER1")["prepay_id"] == first["prepay_id"]
    assert unified_order(url, "ORDER2")["prepay_id"] != first["prepay_id"]


def test_the_same_order_number_with_other_parameters_is_refused(sandbox, sandbox_server):
    url = sandbox_server.url
    unified_order(url, "ORDER1")

    answer = unified_order(url, "ORDER1", total_fee="4990")

    assert_refused(answer, "INVALID_REQUEST")
    assert "商户订单号重复" in answer["err_code_des"]


def test_a_lapsed_prepay_id_is_replaced_while_the_order_is_still_open(sandbox, sandbox_server):
    url = sandbox_server.url
    expire = beijing(datetime.now(BEIJING) + timedelta(hours=5))
    first = unified_order(url, "ORDER1", time_expire=expire)["prepay_id"]

    sandbox.advance_clock(2 * 3600 + 1)

    again = unified_order(url, "ORDER1", time_expire=expire)
    assert again["result_code"] == "SUCCESS" and again["prepay_id"] != first


@pytest.mark.parametrize(
    "overrides, err_code",
    [
        ({"openid": None}, "LACK_PARAMS"),
        ({"total_fee": "0"}, "INVALID_REQUEST"),
        ({"total_fee": "39.90"}, "INVALID_REQUEST"),
        ({"total_fee": "-1"}, "INVALID_REQUEST"),
        ({"time_expire": "2026-11-23 15:00"}, "INVALID_REQUEST"),
        ({"time_expire": "20200101000000"}, "INVALID_REQUEST"),
        ({"trade_type": "NATIVE"}, "INVALID_REQUEST"),
        ({"out_trade_no": "x" * 33}, "INVALID_REQUEST"),
        ({"out_trade_no": "has space"}, "INVALID_REQUEST"),
    ],
)
def test_bad_unified_orders_are_refused_with_the_documented_code(sandbox, sandbox_server, overrides, err_code):
    answer = pay_post(sandbox_server.url, "pay/unifiedorder", {**order_fields("BAD1"), **overrides})

    assert_refused(answer, err_code)
    assert control(sandbox_server.url, "GET", "pay/orders").json()["count"] == 0


def test_an_unpaid_order_queries_as_notpay_without_payment_fields(sandbox, sandbox_server):
    url = sandbox_server.url
    unified_order(url, "ORDER1")

    answer = query(url, out_trade_no="ORDER1")

    assert_signed(answer)
    assert answer["trade_state"] == "NOTPAY" and answer["total_fee"] == "3990"
    assert "transaction_id" not in answer and "time_end" not in answer
    assert_refused(query(url, out_trade_no="NOSUCHORDER"), "ORDERNOTEXIST")


def test_paying_marks_the_order_paid_with_a_transaction_id_and_time_end(sandbox, sandbox_server):
    url = sandbox_server.url
    unified_order(url, "ORDER1")

    paid = pay(url, "ORDER1")

    assert paid.status_code == 201, paid.text
    answer = query(url, out_trade_no="ORDER1")
    assert answer["trade_state"] == "SUCCESS" and answer["trade_state_desc"] == "支付成功"
    assert len(answer["transaction_id"]) == 28 and answer["transaction_id"].isdigit()
    end = datetime.strptime(answer["time_end"], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
    assert abs((end - datetime.now(BEIJING)).total_seconds()) < 60  # Beijing time
    assert answer["total_fee"] == answer["cash_fee"] == "3990"
    by_transaction = query(url, transaction_id=answer["transaction_id"])
    assert by_transaction["out_trade_no"] == "ORDER1"
    assert_refused(unified_order(url, "ORDER1"), "ORDERPAID")
    assert_refused(pay_post(url, "pay/closeorder", {"out_trade_no": "ORDER1"}), "ORDERPAID")
    assert pay(url, "ORDER1").status_code == 409


@pytest.mark.parametrize("result", ["PAYERROR", "USERPAYING"])
def test_a_failed_or_pending_payment_shows_in_the_query_and_can_still_be_paid(sandbox, sandbox_server, result):
    url = sandbox_server.url
    unified_order(url, "ORDER1")

    assert sandbox.pay_order("ORDER1", result=result)["order"]["state"] == result

    assert query(url, out_trade_no="ORDER1")["trade_state"] == result
    assert pay(url, "ORDER1").status_code == 201
    assert query(url, out_trade_no="ORDER1")["trade_state"] == "SUCCESS"


def test_closing_an_unpaid_order(sandbox, sandbox_server):
    url = sandbox_server.url
    unified_order(url, "ORDER1")
    sandbox.advance_clock(5 * 60)

    closed = pay_post(url, "pay/closeorder", {"out_trade_no": "ORDER1"})

    assert closed["return_code"] == closed["result_code"] == "SUCCESS"
    assert_signed(closed)
    assert query(url, out_trade_no="ORDER1")["trade_state"] == "CLOSED"
    assert_refused(pay_post(url, "pay/closeorder", {"out_trade_no": "ORDER1"}), "ORDERCLOSED")
    assert_refused(unified_order(url, "ORDER1"), "ORDERCLOSED")
    assert pay(url, "ORDER1").status_code == 409


def test_an_order_cannot_be_closed_within_five_minutes_of_its_creation(sandbox, sandbox_server):
    url = sandbox_server.url
    unified_order(url, "ORDER1")

    sandbox.advance_clock(4 * 60 + 58)
    too_soon = pay_post(url, "pay/closeorder", {"out_trade_no": "ORDER1"})
    still_open = query(url, out_trade_no="ORDER1")["trade_state"]
    sandbox.advance_clock(2)
    closed = pay_post(url, "pay/closeorder", {"out_trade_no": "ORDER1"})

    assert_refused(too_soon, "SYSTEMERROR")
    assert too_soon["err_code_des"] == "订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟"
    assert still_open == "NOTPAY"
    assert closed["result_code"] == "SUCCESS"


@pytest.mark.parametrize("minutes_ahead, accepted", [(4.9, False), (5.2, True)])
def test_time_expire_must_be_at_least_five_minutes_ahead(sandbox, sandbox_server, minutes_ahead, accepted):
    time_expire = beijing(datetime.now(BEIJING) + timedelta(minutes=minutes_ahead))

    answer = unified_order(sandbox_server.url, "ORDER1", time_expire=time_expire)

    if accepted:
        assert answer["result_code"] == "SUCCESS" and answer["prepay_id"]
    else:
        assert_refused(answer, "INVALID_REQUEST")
        assert answer["err_code_des"] == "time_expire时间过短，刷卡至少1分钟，其他5分钟"


def test_an_order_closes_at_its_time_expire_on_the_sandbox_clock(sandbox, sandbox_server):
    url = sandbox_server.url
    unified_order(url, "ORDER1", time_expire=beijing(datetime.now(BEIJING) + timedelta(minutes=10)))

    sandbox.advance_clock(9 * 60)
    assert query(url, out_trade_no="ORDER1")["trade_state"] == "NOTPAY"
    sandbox.advance_clock(61)

    assert query(url, out_trade_no="ORDER1")["trade_state"] == "CLOSED"
    assert pay(url, "ORDER1").status_code == 409


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_the_payment_notification_is_signed_with_the_orders_sign_type(
    sandbox, sandbox_server, pay_receiver, wechat_sample, sign_type
):
    url = sandbox_server.url
    unified_order(url, "ORDER1", sign_type=sign_type, notify_url=pay_receiver.url, attach="order:1")

    pay(url, "ORDER1")

    [push] = pay_receiver.wait_for(1)
    notification = parse(push.body)
    assert signature_valid(notification, merchant()[1], sign_type)
    assert notification.get("sign_type", "MD5") == sign_type
    queried = query(url, out_trade_no="ORDER1")
    for name in ("out_trade_no", "transaction_id", "total_fee", "time_end", "openid", "attach", "trade_type"):
        assert notification[name] == queried[name], name
    assert notification["return_code"] == notification["result_code"] == "SUCCESS"
    assert notification["appid"] == merchant()[2] and notification["mch_id"] == merchant()[0]
    sample = parse(wechat_sample("pay-notify-md5.xml" if sign_type == "MD5" else "pay-notify-hmac-sha256.xml"))
    assert set(notification) - {"attach"} == set(sample)  # the fields WeChat sends, no more, no fewer


def test_the_notification_is_repeated_on_wechats_schedule_until_answered_success(sandbox, sandbox_server, pay_receiver):
    url = sandbox_server.url
    pay_receiver.answers = [(200, PAY_FAIL), (500, "oops"), (200, PAY_SUCCESS)]
    unified_order(url, "ORDER1", notify_url=pay_receiver.url)
    pay(url, "ORDER1")
    pay_receiver.wait_for(1)

    sandbox.advance_clock(15)
    sandbox.advance_clock(15)

    assert len(pay_receiver.received) == 3
    sandbox.advance_clock(3600)
    assert len(pay_receiver.received) == 3  # answered SUCCESS: never again
    [delivery] = sandbox.outbox()
    assert delivery["state"] == "delivered" and delivery["policy"] == "pay_notification"


def test_a_duplicate_and_tampered_notifications_on_request(sandbox, sandbox_server, pay_receiver):
    url = sandbox_server.url
    key = merchant()[1]
    unified_order(url, "ORDER1", notify_url=pay_receiver.url)
    assert control(url, "POST", "pay/orders/ORDER1/notify").status_code == 409  # not paid: nothing to notify
    pay(url, "ORDER1")

    assert control(url, "POST", "pay/orders/ORDER1/notify").status_code == 201
    assert control(url, "POST", "pay/orders/ORDER1/notify", {"fields": {"total_fee": "1"}}).status_code == 201
    assert sandbox.send_pay_notification("ORDER1", bad_signature=True)["notification"]["state"] == "pending"

    original, duplicate, other_amount, forged = (parse(push.body) for push in pay_receiver.wait_for(4))
    assert {**duplicate, "nonce_str": "", "sign": ""} == {**original, "nonce_str": "", "sign": ""}
    assert signature_valid(duplicate, key)
    assert other_amount["total_fee"] == "1" and signature_valid(other_amount, key)
    assert forged["total_fee"] == "3990" and not signature_valid(forged, key)


def test_the_control_api_lists_orders_and_snapshots_keep_no_key(sandbox, sandbox_server):
    url = sandbox_server.url
    unified_order(url, "ORDER1")
    pay(url, "ORDER1")

    listing = control(url, "GET", "pay/orders").json()
    [order] = listing["orders"]
    assert order["out_trade_no"] == "ORDER1" and order["state"] == "SUCCESS" and order["total_fee"] == 3990
    snapshot = sandbox.state()
    assert settings.WECHAT_PAY_API_KEY not in json.dumps(snapshot) + json.dumps(listing)

    sandbox.reset()
    assert control(url, "GET", "pay/orders").json()["count"] == 0
    sandbox.restore_state(snapshot)
    assert sandbox.pay_orders() == listing["orders"]


@pytest.mark.parametrize(
    "body, status",
    [
        ({"result": "MAYBE"}, 400),
        ({"unknown": 1}, 400),
        ({"mch_id": "999999"}, 404),
    ],
)
def test_bad_control_requests_are_refused(sandbox, sandbox_server, body, status):
    unified_order(sandbox_server.url, "ORDER1")

    assert pay(sandbox_server.url, "ORDER1", **body).status_code == status
    assert pay(sandbox_server.url, "NOSUCH").status_code == 404
