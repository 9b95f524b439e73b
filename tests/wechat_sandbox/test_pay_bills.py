"""WeChat Pay v2 bills in the sandbox over real HTTP, read with csv by the header's column names.

Rules checked here and where they come from (微信支付 V2 开发文档, JSAPI/小程序支付, 下载交易账单):
- 请求参数: bill_date yyyyMMdd, bill_type ALL / SUCCESS / REFUND, tar_type GZIP.
- 返回结果: a header row, data rows whose every field starts with a backtick, a summary header and row; amounts in
  yuan (the layout of tests/fixtures/wechat/bill-sample.csv: 27 columns, CRLF).
- 注意: the day's bill is generated from 9:00 the next day, fetch it after 10:00; bills for three months only;
  错误码: return_code FAIL with "No Bill Exist", "Bill Creating", "invalid bill_type", ... as return_msg.
"""

import csv
import gzip
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests
from wechatpy.pay import WeChatPay

from tests.wechat_sandbox.pay_calls import (
    BEIJING,
    TIMEOUT,
    build,
    control,
    merchant,
    order_fields,
    parse,
    pay,
    pay_post,
    test_sign,
)


def sandbox_now(sandbox) -> datetime:
    return datetime.fromtimestamp(sandbox.advance_clock(0)["now"], BEIJING)


def advance_to(sandbox, moment: datetime) -> None:
    sandbox.advance_clock((moment - sandbox_now(sandbox)).total_seconds())


def next_morning(day, hour=10, minute=0) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), BEIJING).replace(hour=hour, minute=minute)


def download(url: str, bill_date: str, **fields) -> requests.Response:
    mch_id, key, appid = merchant()
    params = {"appid": appid, "mch_id": mch_id, "nonce_str": "nonce1", "bill_date": bill_date, **fields}
    params["sign"] = test_sign(params, key)
    return requests.post(url + "pay/downloadbill", data=build(params).encode(), timeout=TIMEOUT)


def read_bill(text: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    """Data rows and the summary, by column name, backticks removed (as the product will read it)."""
    lines = text.split("\r\n")
    assert lines[-1] == ""  # every line, the last too, ends with CRLF
    summary_at = next(index for index, line in enumerate(lines) if line.startswith("总交易单数"))
    data = list(csv.DictReader(io.StringIO("\n".join(lines[:summary_at]))))
    for row in data:
        assert all(value.startswith("`") for value in row.values()), row
    rows = [{name: value[1:] for name, value in row.items()} for row in data]
    [summary] = list(csv.DictReader(io.StringIO("\n".join(lines[summary_at:-1]))))
    return rows, {name: value.lstrip("`") for name, value in summary.items()}


@pytest.fixture
def day_of_trading(sandbox, sandbox_server):
    """Two orders paid today (Beijing time), one partly refunded, one left unpaid; the clock at 10:00 tomorrow."""
    url = sandbox_server.url
    today = sandbox_now(sandbox).date()
    pay_post(url, "pay/unifiedorder", order_fields("MUG1", attach="order:1"))
    pay_post(url, "pay/unifiedorder", order_fields("TEA2", total_fee="12800", body="Tea set x1"))
    pay_post(url, "pay/unifiedorder", order_fields("UNPAID3"))
    pay(url, "MUG1")
    pay(url, "TEA2")
    pay_post(
        url,
        "secapi/pay/refund",
        {"out_trade_no": "TEA2", "out_refund_no": "R1", "total_fee": "12800", "refund_fee": "2800"},
    )
    if sandbox_now(sandbox).date() != today:  # the run crossed midnight in Beijing: try again tomorrow
        pytest.skip("the day changed while the bill's trades were made")
    advance_to(sandbox, next_morning(today))
    return today.strftime("%Y%m%d")


def test_a_day_bill_lists_payments_and_refunds_in_wechats_format(
    sandbox, sandbox_server, day_of_trading, wechat_sample
):
    answer = download(sandbox_server.url, day_of_trading)

    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
    sample_header = wechat_sample("bill-sample.csv").decode().split("\r\n")[0]
    assert answer.text.split("\r\n")[0] == sample_header
    rows, summary = read_bill(answer.text)
    assert len(rows) == 3 and all(len(row) == 27 for row in rows)
    by_state = {(row["商户订单号"], row["交易状态"]): row for row in rows}
    mug = by_state[("MUG1", "SUCCESS")]
    assert mug["应结订单金额"] == "39.90" and mug["订单金额"] == "39.90" and mug["手续费"] == "0.24000"
    assert mug["商户数据包"] == "order:1" and mug["商户号"] == merchant()[0] and mug["公众账号ID"] == merchant()[2]
    assert len(mug["微信订单号"]) == 28
    assert mug["交易时间"].startswith(datetime.strptime(day_of_trading, "%Y%m%d").strftime("%Y-%m-%d "))
    refund = by_state[("TEA2", "REFUND")]
    assert refund["退款金额"] == "28.00" and refund["申请退款金额"] == "28.00" and refund["应结订单金额"] == "0.00"
    assert refund["商户退款单号"] == "R1" and refund["退款状态"] == "SUCCESS" and refund["手续费"] == "-0.17000"
    assert by_state[("TEA2", "SUCCESS")]["应结订单金额"] == "128.00"
    assert summary == {
        "总交易单数": "3",
        "应结订单总金额": "167.90",
        "退款总金额": "28.00",
        "充值券退款总金额": "0.00",
        "手续费总金额": "0.84000",
        "订单总金额": "167.90",
        "申请退款总金额": "28.00",
    }


def test_bill_types_and_gzip(sandbox, sandbox_server, day_of_trading):
    url = sandbox_server.url

    success, _ = read_bill(download(url, day_of_trading, bill_type="SUCCESS").text)
    refunds, refund_summary = read_bill(download(url, day_of_trading, bill_type="REFUND").text)
    zipped = download(url, day_of_trading, tar_type="GZIP")

    assert {row["交易状态"] for row in success} == {"SUCCESS"} and len(success) == 2
    assert [row["商户退款单号"] for row in refunds] == ["R1"] and refund_summary["退款总金额"] == "28.00"
    assert gzip.decompress(zipped.content).decode() == download(url, day_of_trading).text


def test_a_bill_before_ten_the_next_morning_is_still_being_made(sandbox, sandbox_server):
    url = sandbox_server.url
    pay_post(url, "pay/unifiedorder", order_fields("MUG1"))
    pay(url, "MUG1")
    today = sandbox_now(sandbox).date()
    advance_to(sandbox, next_morning(today, hour=9, minute=59))

    early = parse(download(url, today.strftime("%Y%m%d")).content)

    assert early == {"return_code": "FAIL", "return_msg": "Bill Creating"}
    sandbox.advance_clock(61)
    assert download(url, today.strftime("%Y%m%d")).text.count("MUG1") == 1


def test_a_day_without_trades_has_no_bill_and_old_or_odd_dates_are_refused(sandbox, sandbox_server):
    url = sandbox_server.url
    today = sandbox_now(sandbox).date()
    earlier = (today - timedelta(days=2)).strftime("%Y%m%d")  # whatever the hour, its bill is ready

    assert parse(download(url, earlier).content) == {
        "return_code": "FAIL",
        "return_msg": "No Bill Exist",
        "error_code": "20002",
    }
    for bill_date in (
        today.strftime("%Y%m%d"),
        (today - timedelta(days=100)).strftime("%Y%m%d"),
        "2026-11-22",
        "20261332",
    ):
        assert parse(download(url, bill_date).content) == {"return_code": "FAIL", "return_msg": "invalid bill_date"}
    assert parse(download(url, earlier, bill_type="REVOKED").content)["return_msg"] == "invalid bill_type"
    assert parse(download(url, earlier, tar_type="ZIP").content)["return_msg"] == "invalid tar_type"
    assert parse(download(url, "").content)["return_msg"] == "missing parameter"


def test_tampered_and_extra_rows_for_reconciliation(sandbox, sandbox_server, day_of_trading):
    url = sandbox_server.url
    path = f"pay/bills/{day_of_trading}/rows"

    tampered = control(url, "POST", path, {"out_trade_no": "MUG1", "fields": {"应结订单金额": "39.00"}})
    extra = sandbox.change_bill(day_of_trading, {"商户订单号": "GHOST9", "应结订单金额": "5.00"}, extra=True)
    refund_row = control(
        url, "POST", path, {"out_trade_no": "TEA2", "out_refund_no": "R1", "fields": {"退款金额": "27.00"}}
    )

    assert tampered.status_code == refund_row.status_code == 201 and extra["kind"] == "extra"
    rows, summary = read_bill(download(url, day_of_trading).text)
    by_key = {(row["商户订单号"], row["交易状态"]): row for row in rows}
    assert by_key[("MUG1", "SUCCESS")]["应结订单金额"] == "39.00"
    assert by_key[("MUG1", "SUCCESS")]["订单金额"] == "39.90"  # only what was asked changes
    assert by_key[("GHOST9", "SUCCESS")]["应结订单金额"] == "5.00"
    assert by_key[("TEA2", "REFUND")]["退款金额"] == "27.00"
    assert by_key[("TEA2", "SUCCESS")]["应结订单金额"] == "128.00"
    assert summary["总交易单数"] == "4"
    assert Decimal(summary["应结订单总金额"]) == sum(Decimal(row["应结订单金额"]) for row in rows)

    assert control(url, "POST", path, {"out_trade_no": "NOSUCH", "fields": {"应结订单金额": "1.00"}}).status_code == 404
    assert control(url, "POST", path, {"out_trade_no": "MUG1", "fields": {"nonsense": "1"}}).status_code == 400
    assert control(url, "POST", path, {"out_trade_no": "MUG1", "fields": {"应结订单金额": "lots"}}).status_code == 400
    assert control(url, "POST", "pay/bills/earlier/rows", {"out_trade_no": "MUG1", "fields": {}}).status_code == 400
    snapshot = sandbox.state()
    assert sandbox.clear_bill_changes(day_of_trading) == 3
    assert len(read_bill(download(url, day_of_trading).text)[0]) == 3
    sandbox.restore_state(snapshot)
    sandbox.register_merchant(mch_id=merchant()[0], api_key=merchant()[1], appid=merchant()[2])
    assert len(read_bill(download(url, day_of_trading).text)[0]) == 4


def test_rows_left_out_of_a_bill_for_reconciliation(sandbox, sandbox_server, day_of_trading):
    url = sandbox_server.url

    sandbox.change_bill(day_of_trading, {}, out_trade_no="MUG1", omit=True)
    sandbox.change_bill(day_of_trading, {}, out_trade_no="TEA2", out_refund_no="R1", omit=True)

    rows, summary = read_bill(download(url, day_of_trading).text)
    assert [(row["商户订单号"], row["交易状态"]) for row in rows] == [("TEA2", "SUCCESS")]
    assert (summary["总交易单数"], summary["应结订单总金额"], summary["退款总金额"]) == ("1", "128.00", "0.00")
    path = f"pay/bills/{day_of_trading}/rows"
    assert control(url, "POST", path, {"out_trade_no": "MUG1", "omit": True}).status_code == 404  # gone already
    both = {"out_trade_no": "TEA2", "omit": True, "extra": True, "fields": {}}
    assert control(url, "POST", path, both).status_code == 400


def test_wechatpy_downloads_the_bill(sandbox, sandbox_server, day_of_trading):
    mch_id, key, appid = merchant()
    client = WeChatPay(appid=appid, api_key=key, mch_id=mch_id)
    client.API_BASE_URL = sandbox_server.url

    text = client.tools.download_bill(day_of_trading)

    assert "`MUG1" in text and "`R1" in text
