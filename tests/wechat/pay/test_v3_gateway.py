"""The v3 gateway (wechat.pay.v3) against the WeChat sandbox's APIv3, over real HTTPS."""

import base64
import json
import secrets
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from cryptography.x509 import load_pem_x509_certificate

from wechat.errors import (
    WeChatMisconfigured,
    WeChatPermanentError,
    WeChatRateLimited,
    WeChatTimeout,
    WeChatTransientError,
)
from wechat.models import Merchant, MiniProgram
from wechat.pay.bill_v3 import bill_reader_for
from wechat.pay.gateway import merchant_config, payment_gateway
from wechat.pay.interface import MerchantConfig
from wechat.pay.v3 import BEIJING, WeChatPayV3
from wechat.pay.v3_errors import AnswerNotTrusted
from wechat.pay.v3_platform_certificates import certificates_forget

OPENID = "oUpF8uMEb4qRXf22hE3X68TekukE"
PLATFORM_MCH_ID = "1900007771"
CERTIFICATES_PATH = "/v3/certificates"


def v3_credentials(sandbox, mch_id: str) -> dict:
    """What the merchant platform gives a v3 merchant, as the sandbox issued it (GET /sandbox/tls, its files)."""
    described = sandbox.tls()["merchants"][mch_id]["v3"]
    files = described["files"]
    issued = json.loads(Path(files["description_path"]).read_text())
    return {
        "private_key": Path(files["private_key_path"]).read_text(),
        "certificate_serial": issued["certificate_serial"],
        "apiv3_key": issued["apiv3_key"],
        "verification": described["verification"],
        "wechatpay_public_key": Path(files["wechatpay_public_key_path"]).read_text(),
        "wechatpay_public_key_id": issued["wechatpay_public_key_id"],
        "certificate_path": files["certificate_path"],
    }


def v3_config(sandbox, settings, *, mch_id: str | None = None) -> MerchantConfig:
    mch_id = mch_id or settings.WECHAT_PAY_MCH_ID
    credentials = v3_credentials(sandbox, mch_id)
    credentials.pop("certificate_path")
    return replace(merchant_config(), mch_id=mch_id, version="v3", **credentials)


@pytest.fixture
def gateway(sandbox, settings) -> WeChatPayV3:
    """The settings' merchant on APIv3, checking answers with WeChat Pay's public key."""
    return payment_gateway(v3_config(sandbox, settings))


@pytest.fixture
def platform_gateway(sandbox, settings) -> WeChatPayV3:
    """A merchant checking answers with platform certificates (no public key), its certificate cache empty."""
    sandbox.register_merchant(
        mch_id=PLATFORM_MCH_ID,
        api_key="0123456789abcdefghijklmnopqrstuv",
        appid=settings.WECHAT_MINI_PROGRAM_APPID,
        v3_verification="platform_certificate",
    )
    certificates_forget(PLATFORM_MCH_ID)
    config = v3_config(sandbox, settings, mch_id=PLATFORM_MCH_ID)
    yield payment_gateway(replace(config, wechatpay_public_key="", wechatpay_public_key_id=""))
    certificates_forget(PLATFORM_MCH_ID)
    sandbox.remove_merchant(PLATFORM_MCH_ID)  # merchants outlive a reset: other tests count them


def new_order_number() -> str:
    return "V3" + secrets.token_hex(8)


def prepay(gateway, out_trade_no: str, *, total_fee: int = 3990, time_expire: datetime | None = None):
    return gateway.prepay(
        out_trade_no=out_trade_no,
        total_fee=total_fee,
        openid=OPENID,
        body="Ceramic mug x1",
        notify_url="https://127.0.0.1:9/wechat/pay/v3/notify/",
        time_expire=time_expire or datetime.now(BEIJING) + timedelta(minutes=30),
        client_ip="127.0.0.1",
    )


def paid_order(gateway, sandbox, *, total_fee: int = 3990) -> str:
    out_trade_no = new_order_number()
    prepay(gateway, out_trade_no, total_fee=total_fee)
    sandbox.pay_order(out_trade_no, mch_id=gateway.config.mch_id)
    return out_trade_no


def certificate_downloads(sandbox) -> int:
    return len(sandbox.received(CERTIFICATES_PATH))


# --- choosing the backend ------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_v3_merchant_row_gets_the_v3_gateway_which_pays(sandbox, settings):
    credentials = v3_credentials(sandbox, settings.WECHAT_PAY_MCH_ID)
    credentials.pop("certificate_path")
    merchant = Merchant.objects.create(
        name="v3 shop", mch_id=settings.WECHAT_PAY_MCH_ID, api_version=Merchant.ApiVersion.V3, **credentials
    )
    mini_program = MiniProgram.objects.create(
        name="shop", appid=settings.WECHAT_MINI_PROGRAM_APPID, app_secret="secret", merchant=merchant
    )
    gateway = payment_gateway(merchant_config(mini_program))
    assert isinstance(gateway, WeChatPayV3)
    assert gateway.config.v3_base_url == settings.WECHAT_PAY_V3_BASE_URL
    assert "private_key" not in repr(gateway.config) and credentials["apiv3_key"] not in repr(gateway.config)
    out_trade_no = new_order_number()
    assert prepay(gateway, out_trade_no).prepay_id.startswith("wx")
    (order,) = [order for order in sandbox.pay_orders() if order["out_trade_no"] == out_trade_no]
    assert (order["api_version"], order["total_fee"], order["openid"]) == ("v3", 3990, OPENID)


# --- the operations --------------------------------------------------------------------------------


def test_prepay_and_a_repeat_with_the_same_parameters_give_one_prepay_id(gateway, sandbox):
    out_trade_no = new_order_number()
    expires = datetime.now(BEIJING) + timedelta(minutes=30)
    first = prepay(gateway, out_trade_no, time_expire=expires)
    again = prepay(gateway, out_trade_no, time_expire=expires)
    assert first.prepay_id == again.prepay_id
    assert first.sign_type == "RSA"
    (request,) = sandbox.received("/v3/pay/transactions/jsapi")[:1]
    sent = json.loads(request["body"])
    assert sent["amount"] == {"total": 3990, "currency": "CNY"}
    assert sent["time_expire"] == expires.isoformat(timespec="seconds")
    assert sent["time_expire"].endswith("+08:00")


def test_prepay_with_other_parameters_is_refused(gateway):
    out_trade_no = new_order_number()
    prepay(gateway, out_trade_no)
    with pytest.raises(WeChatPermanentError) as refused:
        prepay(gateway, out_trade_no, total_fee=100)
    assert refused.value.errcode == "OUT_TRADE_NO_USED"


def test_payment_parameters_are_signed_rsa_with_the_merchant_key(gateway, sandbox, settings):
    prepaid = prepay(gateway, new_order_number())
    params = gateway.payment_parameters(prepaid)
    assert params["signType"] == "RSA"
    assert params["package"] == f"prepay_id={prepaid.prepay_id}"
    assert params["appId"] == settings.WECHAT_MINI_PROGRAM_APPID
    # Checked with the merchant certificate the sandbox issued, as WeChat checks it.
    certificate_path = v3_credentials(sandbox, settings.WECHAT_PAY_MCH_ID)["certificate_path"]
    public_key = load_pem_x509_certificate(Path(certificate_path).read_bytes()).public_key()
    message = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    public_key.verify(base64.b64decode(params["paySign"]), message, padding.PKCS1v15(), hashes.SHA256())
    with pytest.raises(InvalidSignature):
        public_key.verify(base64.b64decode(params["paySign"]), message + b"x", padding.PKCS1v15(), hashes.SHA256())


def test_order_query_follows_the_order_from_unpaid_to_paid(gateway, sandbox):
    out_trade_no = new_order_number()
    prepay(gateway, out_trade_no)
    unpaid = gateway.order_query(out_trade_no)
    assert (unpaid.trade_state, unpaid.total_fee, unpaid.transaction_id, unpaid.time_end) == (
        "NOTPAY",
        3990,
        None,
        None,
    )
    paid = sandbox.pay_order(out_trade_no, mch_id=gateway.config.mch_id)["order"]
    status = gateway.order_query(out_trade_no)
    assert status.trade_state == "SUCCESS"
    assert status.transaction_id == paid["transaction_id"]
    assert status.time_end == paid["time_end"]  # yyyyMMddHHmmss Beijing, as v2's


def test_an_unknown_order_is_ordernotexist(gateway):
    with pytest.raises(WeChatPermanentError) as refused:
        gateway.order_query(new_order_number())
    assert refused.value.errcode == "ORDERNOTEXIST"
    assert refused.value.body["v3_code"] == "ORDER_NOT_EXIST"
    assert not isinstance(refused.value, WeChatMisconfigured)


def test_close_closes_once_then_orderclosed(gateway, sandbox):
    out_trade_no = new_order_number()
    prepay(gateway, out_trade_no)
    with pytest.raises(WeChatTransientError) as too_soon:  # 关闭订单: not within 5 minutes of the order's creation
        gateway.order_close(out_trade_no)
    assert too_soon.value.body["v3_code"] == "SYSTEM_ERROR"
    assert gateway.order_query(out_trade_no).trade_state == "NOTPAY"
    sandbox.advance_clock(5 * 60)
    gateway.order_close(out_trade_no)
    assert gateway.order_query(out_trade_no).trade_state == "CLOSED"
    with pytest.raises(WeChatPermanentError) as closed_again:
        gateway.order_close(out_trade_no)
    assert closed_again.value.errcode == "ORDERCLOSED"
    with pytest.raises(WeChatPermanentError) as prepay_closed:
        prepay(gateway, out_trade_no)
    assert prepay_closed.value.errcode == "ORDERCLOSED"


def test_a_paid_order_is_orderpaid_to_close_and_to_prepay(gateway, sandbox):
    out_trade_no = paid_order(gateway, sandbox)
    with pytest.raises(WeChatPermanentError) as close_paid:
        gateway.order_close(out_trade_no)
    assert close_paid.value.errcode == "ORDERPAID"
    with pytest.raises(WeChatPermanentError) as prepay_paid:
        prepay(gateway, out_trade_no)
    assert prepay_paid.value.errcode == "ORDERPAID"


def test_refund_then_query_it_until_it_goes_through(gateway, sandbox):
    out_trade_no = paid_order(gateway, sandbox)
    out_refund_no = out_trade_no + "R01"
    result = gateway.refund(out_trade_no=out_trade_no, out_refund_no=out_refund_no, total_fee=3990, refund_fee=1000)
    assert (result.out_refund_no, result.refund_fee) == (out_refund_no, 1000)
    assert result.refund_id
    again = gateway.refund(out_trade_no=out_trade_no, out_refund_no=out_refund_no, total_fee=3990, refund_fee=1000)
    assert again.refund_id == result.refund_id  # one out_refund_no is one refund
    processing = gateway.refund_query(out_refund_no)
    assert (processing.refund_status, processing.refund_fee, processing.refund_id) == (
        "PROCESSING",
        1000,
        result.refund_id,
    )
    sandbox.advance_clock(60)
    assert gateway.refund_query(out_refund_no).refund_status == "SUCCESS"
    assert gateway.order_query(out_trade_no).trade_state == "REFUND"


def test_refund_refusals(gateway, sandbox):
    out_trade_no = paid_order(gateway, sandbox, total_fee=500)
    gateway.refund(out_trade_no=out_trade_no, out_refund_no=out_trade_no + "R01", total_fee=500, refund_fee=400)
    with pytest.raises(WeChatMisconfigured) as too_much:
        gateway.refund(out_trade_no=out_trade_no, out_refund_no=out_trade_no + "R02", total_fee=500, refund_fee=200)
    assert too_much.value.errcode == "INVALID_REQUEST"
    with pytest.raises(WeChatPermanentError) as no_order:
        gateway.refund(out_trade_no=new_order_number(), out_refund_no="X1R01", total_fee=500, refund_fee=1)
    assert no_order.value.errcode == "ORDERNOTEXIST"
    with pytest.raises(WeChatPermanentError) as no_refund:
        gateway.refund_query(new_order_number() + "R01")
    assert no_refund.value.errcode == "REFUNDNOTEXIST"


def test_the_trade_bill_is_streamed_hash_checked_and_read_by_the_v3_reader(gateway, sandbox):
    paid = paid_order(gateway, sandbox, total_fee=3990)
    gateway.refund(out_trade_no=paid, out_refund_no=paid + "R01", total_fee=3990, refund_fee=990)
    today = datetime.fromtimestamp(sandbox.advance_clock(0)["now"], BEIJING).date()
    sandbox.advance_clock(86400 + 11 * 3600)  # 10:00 the next day has passed: the bill is made
    reader = bill_reader_for(gateway.bill_download(today), api_version="v3")
    rows = [row for row in reader if row.out_trade_no == paid]
    assert sorted((row.trade_state, row.refund_fen) for row in rows) == [("REFUND", 990), ("SUCCESS", 0)]
    (request,) = sandbox.received("/v3/bill/tradebill")
    assert request["query"] == {"bill_date": today.isoformat(), "bill_type": "ALL", "tar_type": "GZIP"}
    assert len(sandbox.received("/v3/billdownload/file")) == 1


def test_a_bill_whose_hash_does_not_match_is_not_received(gateway, sandbox):
    paid_order(gateway, sandbox)
    today = datetime.fromtimestamp(sandbox.advance_clock(0)["now"], BEIJING).date()
    sandbox.advance_clock(86400 + 11 * 3600)
    sandbox.tamper_v3_answers(gateway.config.mch_id, "wrong_bill_hash")
    with pytest.raises(AnswerNotTrusted, match="SHA1"):
        list(gateway.bill_download(today))


def test_a_bill_not_made_yet_is_transient_and_a_day_without_trades_is_no_bill(gateway, sandbox):
    now = datetime.fromtimestamp(sandbox.advance_clock(0)["now"], BEIJING)
    today = now.date()
    next_morning = datetime.combine(today + timedelta(days=1), datetime.min.time(), BEIJING) + timedelta(hours=8)
    sandbox.advance_clock((next_morning - now).total_seconds())  # the next day, before 10:00
    with pytest.raises(WeChatTransientError) as creating:
        list(gateway.bill_download(today))
    assert creating.value.errcode == "BILL_CREATING"
    with pytest.raises(WeChatPermanentError) as no_bill:
        list(gateway.bill_download(today - timedelta(days=5)))
    assert no_bill.value.errcode == "20002"  # what reconciliation reads as "no trades that day", for v2 too


# --- errors ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "error_class", "errcode"),
    [
        ({"errcode": "SYSTEM_ERROR"}, WeChatTransientError, "SYSTEM_ERROR"),
        ({"http_status": 502}, WeChatTransientError, 502),
        ({"errcode": "FREQUENCY_LIMITED"}, WeChatRateLimited, "FREQUENCY_LIMITED"),
        ({"errcode": "PARAM_ERROR"}, WeChatMisconfigured, "PARAM_ERROR"),
        ({"errcode": "INVALID_REQUEST"}, WeChatMisconfigured, "INVALID_REQUEST"),
        ({"errcode": "ORDERPAID"}, WeChatPermanentError, "ORDERPAID"),
        ({"errcode": "ORDER_CLOSED"}, WeChatPermanentError, "ORDERCLOSED"),
    ],
)
def test_v3_errors_map_to_our_error_classes(gateway, sandbox, fault, error_class, errcode):
    sandbox.add_fault("/v3/pay/transactions/jsapi", **fault)
    with pytest.raises(error_class) as failed:
        prepay(gateway, new_order_number())
    assert failed.value.errcode == errcode
    if error_class is WeChatPermanentError:
        assert not isinstance(failed.value, WeChatMisconfigured)


def test_a_request_signed_with_another_key_is_sign_error_misconfigured(gateway):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = stranger.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    wrong_key = WeChatPayV3(replace(gateway.config, private_key=pem))
    with pytest.raises(WeChatMisconfigured) as refused:
        prepay(wrong_key, new_order_number())
    assert refused.value.errcode == "SIGN_ERROR"


def test_our_timeout_holds(gateway, sandbox):
    sandbox.add_fault("/v3/pay/transactions/jsapi", delay=1)
    slow = WeChatPayV3(replace(gateway.config, timeout=0.3))
    with pytest.raises(WeChatTimeout):
        prepay(slow, new_order_number())
    time.sleep(1)  # the sandbox answers the abandoned request after its delay: not into the next test


# --- answers we do not believe -------------------------------------------------------------------


def test_an_answer_with_a_bad_signature_is_not_received(gateway, sandbox):
    out_trade_no = new_order_number()
    expires = datetime.now(BEIJING) + timedelta(minutes=30)
    sandbox.tamper_v3_answers(gateway.config.mch_id, "bad_signature")
    with pytest.raises(AnswerNotTrusted, match="does not verify") as untrusted:
        prepay(gateway, out_trade_no, time_expire=expires)
    assert isinstance(untrusted.value, WeChatTransientError)  # as if no answer came: try again
    # WeChat made the order: asking again (the same parameters) gets its prepay_id, now from a trusted answer.
    assert prepay(gateway, out_trade_no, time_expire=expires).prepay_id == sandbox.pay_orders()[-1]["prepay_id"]


def test_an_answer_signed_six_minutes_ago_is_refused(gateway, sandbox):
    out_trade_no = new_order_number()
    prepay(gateway, out_trade_no)
    sandbox.tamper_v3_answers(gateway.config.mch_id, "stale_timestamp")
    with pytest.raises(AnswerNotTrusted, match="5 minutes"):
        gateway.order_query(out_trade_no)
    assert gateway.order_query(out_trade_no).trade_state == "NOTPAY"


def test_an_answer_under_an_unknown_serial_is_refused_without_a_download_in_public_key_mode(gateway, sandbox):
    out_trade_no = new_order_number()
    prepay(gateway, out_trade_no)
    sandbox.tamper_v3_answers(gateway.config.mch_id, "unknown_serial")
    with pytest.raises(AnswerNotTrusted, match="serial"):
        gateway.order_query(out_trade_no)
    assert certificate_downloads(sandbox) == 0


def test_platform_certificates_are_downloaded_once_and_used_for_every_answer(platform_gateway, sandbox):
    out_trade_no = new_order_number()
    prepay(platform_gateway, out_trade_no)
    for _ in range(5):
        assert platform_gateway.order_query(out_trade_no).trade_state == "NOTPAY"
    assert certificate_downloads(sandbox) == 1
    # Another process (a new gateway object) reads the same cached certificates.
    WeChatPayV3(platform_gateway.config).order_query(out_trade_no)
    assert certificate_downloads(sandbox) == 1


def test_a_rotated_platform_certificate_is_downloaded_once(platform_gateway, sandbox):
    out_trade_no = new_order_number()
    prepay(platform_gateway, out_trade_no)
    assert certificate_downloads(sandbox) == 1
    # The claim on downloading holds for the refresh interval: let it lapse, as time would.
    from django.core.cache import cache

    cache.delete(f"wechatpay:v3:platform-certificates:downloaded:{PLATFORM_MCH_ID}")
    sandbox.rotate_platform_certificate(PLATFORM_MCH_ID)
    for _ in range(3):
        assert platform_gateway.order_query(out_trade_no).trade_state == "NOTPAY"
    assert certificate_downloads(sandbox) == 2


def test_unknown_serials_download_the_certificates_once_per_interval_not_once_per_answer(platform_gateway, sandbox):
    out_trade_no = new_order_number()
    prepay(platform_gateway, out_trade_no)  # downloads the certificates: the interval starts
    assert certificate_downloads(sandbox) == 1
    for _ in range(3):
        sandbox.tamper_v3_answers(PLATFORM_MCH_ID, "unknown_serial")
        with pytest.raises(AnswerNotTrusted, match="serial"):
            platform_gateway.order_query(out_trade_no)
    assert certificate_downloads(sandbox) == 1
    assert platform_gateway.order_query(out_trade_no).trade_state == "NOTPAY"


def test_an_unknown_serial_after_the_interval_downloads_once_and_is_still_refused(platform_gateway, sandbox):
    from django.core.cache import cache

    out_trade_no = new_order_number()
    prepay(platform_gateway, out_trade_no)
    cache.delete(f"wechatpay:v3:platform-certificates:downloaded:{PLATFORM_MCH_ID}")
    for _ in range(3):
        sandbox.tamper_v3_answers(PLATFORM_MCH_ID, "unknown_serial")
        with pytest.raises(AnswerNotTrusted, match="serial"):
            platform_gateway.order_query(out_trade_no)
    assert certificate_downloads(sandbox) == 2  # the first download, and one for the three unknown serials


def test_an_error_the_business_acts_on_is_believed_only_when_signed(gateway, sandbox):
    unknown = new_order_number()
    sandbox.tamper_v3_answers(gateway.config.mch_id, "bad_signature")
    with pytest.raises(AnswerNotTrusted):  # a forged ORDER_NOT_EXIST would let expiry give up on a paid order
        gateway.order_query(unknown)
    with pytest.raises(WeChatPermanentError) as signed:
        gateway.order_query(unknown)
    assert signed.value.errcode == "ORDERNOTEXIST"


def test_a_failed_certificate_download_does_not_hold_off_the_next_one(platform_gateway, sandbox):
    out_trade_no = new_order_number()
    sandbox.add_fault(CERTIFICATES_PATH, errcode="SYSTEM_ERROR")
    with pytest.raises(WeChatTransientError):
        prepay(platform_gateway, out_trade_no)
    assert platform_gateway.order_query(out_trade_no).trade_state == "NOTPAY"  # the order was made; now trusted
    assert certificate_downloads(sandbox) == 2
