"""The v2 gateway against the WeChat sandbox, over real HTTP."""

import csv
import io
import secrets
import threading
from datetime import datetime, timedelta

import pytest
from werkzeug import Request, Response
from werkzeug.serving import make_server

from wechat.errors import WeChatMisconfigured, WeChatPermanentError, WeChatTimeout, WeChatTransientError
from wechat.pay.gateway import merchant_config, payment_gateway
from wechat.pay.interface import MerchantConfig, PrepayResult
from wechat.pay.signing import HMAC_SHA256, MD5, sign, signature_valid
from wechat.pay.v2 import BEIJING, InvalidPayMessage, WeChatPayV2, build_xml, parse_xml

OPENID = "oUpF8uMEb4qRXf22hE3X68TekukE"


@pytest.fixture(params=[MD5, HMAC_SHA256])
def gateway(request, sandbox) -> WeChatPayV2:
    config = merchant_config()
    return payment_gateway(MerchantConfig(**{**config.__dict__, "sign_type": request.param}))


def new_order_number() -> str:
    return "T" + secrets.token_hex(8)


def prepay(
    gateway,
    out_trade_no: str,
    *,
    total_fee: int = 3990,
    notify_url: str = "http://127.0.0.1:9/pay/notify/",
    time_expire: datetime | None = None,
):
    return gateway.prepay(
        out_trade_no=out_trade_no,
        total_fee=total_fee,
        openid=OPENID,
        body="Ceramic mug x1",
        notify_url=notify_url,
        time_expire=time_expire or datetime.now(BEIJING) + timedelta(minutes=30),
        client_ip="127.0.0.1",
    )


def test_the_factory_builds_the_v2_gateway_from_settings(settings):
    settings.WECHAT_PAY_MCH_ID = "1900000109"
    gateway = payment_gateway()
    assert isinstance(gateway, WeChatPayV2)
    assert gateway.config.mch_id == "1900000109"
    assert gateway.config.timeout == settings.WECHAT_HTTP_TIMEOUT


def test_prepay_creates_the_order_and_repeating_it_gives_the_same_prepay_id(gateway, sandbox):
    out_trade_no = new_order_number()
    # One time_expire for both: WeChat refuses a repeat whose parameters differ, a second's tick included.
    time_expire = datetime.now(BEIJING) + timedelta(minutes=30)
    first = prepay(gateway, out_trade_no, time_expire=time_expire)
    assert prepay(gateway, out_trade_no, time_expire=time_expire) == first
    [order] = [order for order in sandbox.pay_orders() if order["out_trade_no"] == out_trade_no]
    assert order["prepay_id"] == first.prepay_id
    assert order["total_fee"] == 3990
    assert order["sign_type"] == gateway.config.sign_type


def test_payment_parameters_are_signed_for_wx_request_payment(gateway):
    parameters = gateway.payment_parameters(
        PrepayResult(prepay_id="wx201410272009395522657a690389285100", sign_type=gateway.config.sign_type)
    )
    assert parameters["package"] == "prepay_id=wx201410272009395522657a690389285100"
    assert parameters["appId"] == gateway.config.appid
    pay_sign = parameters.pop("paySign")
    assert signature_valid({**parameters, "sign": pay_sign}, gateway.config.api_key, gateway.config.sign_type)
    tampered = {**parameters, "sign": pay_sign, "package": "prepay_id=wx2"}
    assert not signature_valid(tampered, gateway.config.api_key, gateway.config.sign_type)


def test_a_paid_order_is_queried_as_success_with_its_transaction_id(gateway, sandbox):
    out_trade_no = new_order_number()
    prepay(gateway, out_trade_no)
    assert gateway.order_query(out_trade_no).trade_state == "NOTPAY"
    paid = sandbox.pay_order(out_trade_no)["order"]
    status = gateway.order_query(out_trade_no)
    assert (status.trade_state, status.transaction_id, status.total_fee) == ("SUCCESS", paid["transaction_id"], 3990)
    assert status.time_end == paid["time_end"]


def test_close_then_closing_a_paid_order_is_a_permanent_orderpaid(gateway, sandbox):
    unpaid = new_order_number()
    prepay(gateway, unpaid)
    with pytest.raises(WeChatTransientError) as too_soon:  # 关闭订单: not within 5 minutes of the order's creation
        gateway.order_close(unpaid)
    assert too_soon.value.errcode == "SYSTEMERROR"
    sandbox.advance_clock(5 * 60)
    gateway.order_close(unpaid)
    assert gateway.order_query(unpaid).trade_state == "CLOSED"
    paid = new_order_number()
    prepay(gateway, paid)
    sandbox.pay_order(paid)
    with pytest.raises(WeChatPermanentError) as refused:
        gateway.order_close(paid)
    assert refused.value.errcode == "ORDERPAID"
    assert not isinstance(refused.value, WeChatTransientError)


def test_refund_and_refund_query(gateway, sandbox):
    out_trade_no = new_order_number()
    prepay(gateway, out_trade_no)
    sandbox.pay_order(out_trade_no)
    refund = gateway.refund(
        out_trade_no=out_trade_no, out_refund_no="R" + out_trade_no, total_fee=3990, refund_fee=1000
    )
    assert refund.refund_fee == 1000
    status = gateway.refund_query("R" + out_trade_no)
    assert (status.refund_id, status.refund_fee, status.refund_status) == (refund.refund_id, 1000, "PROCESSING")
    sandbox.advance_clock(11)
    assert gateway.refund_query("R" + out_trade_no).refund_status == "SUCCESS"
    assert gateway.order_query(out_trade_no).trade_state == "REFUND"


@pytest.mark.parametrize("gzip", [True, False])
def test_the_bill_of_a_paid_day_streams_as_lines_read_by_header_name(sandbox, gzip):
    gateway = payment_gateway()
    out_trade_no = new_order_number()
    prepay(gateway, out_trade_no)
    paid = sandbox.pay_order(out_trade_no)["order"]
    paid_day = datetime.strptime(paid["time_end"], "%Y%m%d%H%M%S").date()
    now = datetime.fromtimestamp(sandbox.advance_clock(0)["now"], BEIJING)
    next_day_ten = datetime.combine(paid_day + timedelta(days=1), datetime.min.time(), tzinfo=BEIJING) + timedelta(
        hours=10, minutes=1
    )
    sandbox.advance_clock(max(0.0, (next_day_ten - now).total_seconds()))
    lines = gateway.bill_download(paid_day, gzip=gzip)
    assert not isinstance(lines, list)
    rows = list(csv.reader(io.StringIO("\n".join(lines))))
    header = rows[0]
    [row] = [dict(zip(header, (v.lstrip("`") for v in r), strict=True)) for r in rows[1:] if f"`{out_trade_no}" in r]
    assert row["商户订单号"] == out_trade_no
    assert row["交易状态"] == "SUCCESS"
    assert row["订单金额"] == "39.90"


def test_a_bill_is_not_ready_before_ten_the_next_day_and_never_for_today(sandbox):
    gateway = payment_gateway()
    out_trade_no = new_order_number()
    prepay(gateway, out_trade_no)
    paid = sandbox.pay_order(out_trade_no)["order"]
    paid_day = datetime.strptime(paid["time_end"], "%Y%m%d%H%M%S").date()
    with pytest.raises(WeChatPermanentError):
        list(gateway.bill_download(paid_day))
    now = datetime.fromtimestamp(sandbox.advance_clock(0)["now"], BEIJING)
    next_day_nine = datetime.combine(paid_day + timedelta(days=1), datetime.min.time(), tzinfo=BEIJING) + timedelta(
        hours=9
    )
    sandbox.advance_clock((next_day_nine - now).total_seconds())
    with pytest.raises(WeChatTransientError) as creating:
        list(gateway.bill_download(paid_day))
    assert creating.value.errcode == "BILL_CREATING"


def test_systemerror_is_transient(gateway, sandbox):
    sandbox.add_fault("/pay/unifiedorder", errcode="SYSTEMERROR")
    with pytest.raises(WeChatTransientError) as failed:
        prepay(gateway, new_order_number())
    assert failed.value.errcode == "SYSTEMERROR"


def test_a_wrong_api_key_is_a_misconfiguration(sandbox):
    config = merchant_config()
    gateway = payment_gateway(MerchantConfig(**{**config.__dict__, "api_key": "x" * 32}))
    with pytest.raises(WeChatMisconfigured):
        prepay(gateway, new_order_number())


def test_no_answer_in_time_is_a_timeout(sandbox):
    sandbox.add_fault("/pay/orderquery", delay=1.0)
    config = merchant_config()
    gateway = payment_gateway(MerchantConfig(**{**config.__dict__, "timeout": 0.2}))
    with pytest.raises(WeChatTimeout):
        gateway.order_query(new_order_number())


@pytest.fixture
def badly_signed_wechat():
    """A local server answering every Pay call with a success whose signature is off by one character."""

    def app(environ, start_response):
        request = parse_xml(Request(environ).get_data())
        answer = {"return_code": "SUCCESS", "result_code": "SUCCESS", "appid": request["appid"], "prepay_id": "wx1"}
        good = sign(answer, merchant_config().api_key)
        answer["sign"] = good[:-1] + ("0" if good[-1] != "0" else "1")
        return Response(build_xml(answer), content_type="text/xml")(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}/"
    server.shutdown()
    server.server_close()


def test_a_tampered_answer_signature_is_detected(badly_signed_wechat, settings):
    settings.WECHAT_PAY_API_BASE_URL = badly_signed_wechat
    with pytest.raises(InvalidPayMessage):
        prepay(payment_gateway(), new_order_number())


@pytest.mark.parametrize(
    ("cdata", "start"),
    [
        (False, b"<xml><return_code>SUCCESS</return_code>"),
        (True, b"<xml><return_code><![CDATA[SUCCESS]]></return_code>"),
    ],
)
def test_xml_is_written_plain_or_in_cdata_and_reads_back_unchanged(cdata, start):
    fields = {"return_code": "SUCCESS", "total_fee": "3990", "body": "茶 <x> & ]]> y", "attach": ""}

    written = build_xml(fields, cdata=cdata)

    assert written.startswith(start)
    assert parse_xml(written) == fields
