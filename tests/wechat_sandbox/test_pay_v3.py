"""The sandbox's WeChat Pay APIv3 (/v3/ over HTTPS): signatures both ways, the documented errors, one order book.

Requests are signed here with `cryptography` alone, as APIv3 文档 签名生成 describes, so these tests
check the sandbox against the documents rather than against our product's signing code.
"""

import base64
import gzip
import hashlib
import json
import os
import secrets
import stat
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key
from cryptography.x509 import load_pem_x509_certificate

from tests.wechat_sandbox.pay_calls import pay_post

BEIJING_OFFSET = "+08:00"
OPENID = "oUpF8uMEb4qRXf22hE3X68TekukE"


class V3Merchant:
    """A merchant calling the sandbox's APIv3 with the keys it was issued (GET /sandbox/tls names the files)."""

    def __init__(self, sandbox, mch_id: str, ca_path: str):
        tls = sandbox.tls()
        described = tls["merchants"][mch_id]["v3"]
        self.base_url = tls["v3_url"]
        self.mch_id = mch_id
        self.ca_path = ca_path
        self.files = described["files"]
        self.issued = json.loads(Path(self.files["description_path"]).read_text())
        self.private_key = load_pem_private_key(Path(self.files["private_key_path"]).read_bytes(), password=None)
        self.serial = self.issued["certificate_serial"]
        self.wechatpay_public_key = load_pem_public_key(Path(self.files["wechatpay_public_key_path"]).read_bytes())
        self.verification = described["verification"]

    def call(
        self, method: str, path: str, body: dict | None = None, *, sign_with=None, **overrides
    ) -> requests.Response:
        data = json.dumps(body) if body is not None else ""
        timestamp = str(int(time.time()) + overrides.get("timestamp_offset", 0))
        nonce = secrets.token_hex(16)
        message = f"{method}\n{path}\n{timestamp}\n{nonce}\n{data}\n".encode()
        key = sign_with or self.private_key
        signature = base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()
        if overrides.get("corrupt"):
            signature = ("A" if signature[0] != "A" else "B") + signature[1:]
        serial = overrides.get("serial", self.serial)
        authorization = (
            f'WECHATPAY2-SHA256-RSA2048 mchid="{overrides.get("mchid", self.mch_id)}",nonce_str="{nonce}",'
            f'signature="{signature}",timestamp="{timestamp}",serial_no="{serial}"'
        )
        headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if not overrides.get("no_authorization"):
            headers["Authorization"] = authorization
        base = overrides.get("base_url", self.base_url)
        return requests.request(
            method, base.rstrip("/") + path, data=data or None, headers=headers, verify=self.ca_path, timeout=5
        )

    def prepay_body(self, appid: str, out_trade_no: str, **changes) -> dict:
        body = {
            "appid": appid,
            "mchid": self.mch_id,
            "description": "Ceramic mug x1",
            "out_trade_no": out_trade_no,
            "notify_url": "https://127.0.0.1:9/wechat/pay/v3/notify/",
            "amount": {"total": 3990, "currency": "CNY"},
            "payer": {"openid": OPENID},
        }
        body.update(changes)
        return body


def signed_by(response: requests.Response, public_key) -> bool:
    message = (
        f"{response.headers['Wechatpay-Timestamp']}\n{response.headers['Wechatpay-Nonce']}\n".encode()
        + response.content
        + b"\n"
    )
    try:
        public_key.verify(
            base64.b64decode(response.headers["Wechatpay-Signature"]), message, padding.PKCS1v15(), hashes.SHA256()
        )
    except Exception:  # noqa: BLE001 - any failure is "not signed by this key"
        return False
    return True


def assert_error(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code
    assert body["message"]
    return body


@pytest.fixture
def merchant(sandbox, sandbox_server, settings) -> V3Merchant:
    return V3Merchant(sandbox, settings.WECHAT_PAY_MCH_ID, sandbox_server.tls.ca_path)


@pytest.fixture
def appid(settings) -> str:
    return settings.WECHAT_MINI_PROGRAM_APPID


def new_order_number() -> str:
    return "S3" + secrets.token_hex(8)


def prepaid(merchant: V3Merchant, appid: str, **changes) -> str:
    out_trade_no = new_order_number()
    response = merchant.call("POST", "/v3/pay/transactions/jsapi", merchant.prepay_body(appid, out_trade_no, **changes))
    assert response.status_code == 200, response.text
    return out_trade_no


# --- keys and request signatures -----------------------------------------------------------------


def test_the_sandbox_issues_v3_keys_beside_the_v2_certificates(sandbox, sandbox_server, merchant):
    directory = Path(sandbox_server.tls.ca_path).parent
    assert Path(merchant.files["private_key_path"]).parent == directory
    assert stat.S_IMODE(os.stat(merchant.files["private_key_path"]).st_mode) == 0o600
    certificate = load_pem_x509_certificate(Path(merchant.files["certificate_path"]).read_bytes())
    assert f"{certificate.serial_number:X}" == merchant.serial
    assert isinstance(merchant.private_key, rsa.RSAPrivateKey) and merchant.private_key.key_size == 2048
    assert merchant.issued["wechatpay_public_key_id"].startswith("PUB_KEY_ID_")
    assert len(merchant.issued["apiv3_key"]) == 32
    described = json.dumps(sandbox.tls())
    assert merchant.issued["apiv3_key"] not in described and "PRIVATE KEY" not in described


@pytest.mark.parametrize(
    "spoil",
    [
        {"corrupt": True},
        {"no_authorization": True},
        {"timestamp_offset": -360},
        {"timestamp_offset": 360},
        {"serial": "5157F09EFDC096DE15EBE81A47057A7200000001"},
    ],
    ids=["one-character-changed", "no-authorization", "six-minutes-old", "six-minutes-ahead", "another-serial"],
)
def test_a_request_not_signed_right_is_401_sign_error(merchant, appid, sandbox, spoil):
    out_trade_no = new_order_number()
    response = merchant.call("POST", "/v3/pay/transactions/jsapi", merchant.prepay_body(appid, out_trade_no), **spoil)
    assert_error(response, 401, "SIGN_ERROR")
    assert not [order for order in sandbox.pay_orders() if order["out_trade_no"] == out_trade_no]


def test_a_request_signed_by_another_key_is_401_sign_error(merchant, appid):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = merchant.prepay_body(appid, new_order_number())
    assert_error(merchant.call("POST", "/v3/pay/transactions/jsapi", body, sign_with=stranger), 401, "SIGN_ERROR")


def test_an_unknown_merchant_is_mch_not_exists(merchant, appid):
    body = merchant.prepay_body(appid, new_order_number(), mchid="1900009999")
    response = merchant.call("POST", "/v3/pay/transactions/jsapi", body, mchid="1900009999")
    assert_error(response, 400, "MCH_NOT_EXISTS")


def test_apiv3_over_plain_http_is_refused(merchant, appid, sandbox_server):
    body = merchant.prepay_body(appid, new_order_number())
    response = merchant.call("POST", "/v3/pay/transactions/jsapi", body, base_url=sandbox_server.url)
    assert_error(response, 400, "INVALID_REQUEST")


def test_every_answer_is_signed_with_wechat_pays_public_key(merchant, appid, sandbox):
    out_trade_no = prepaid(merchant, appid)
    sandbox.advance_clock(5 * 60)  # 关闭订单: not within 5 minutes of the order's creation
    found = merchant.call("GET", f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={merchant.mch_id}")
    missing = merchant.call("GET", f"/v3/pay/transactions/out-trade-no/{new_order_number()}?mchid={merchant.mch_id}")
    closed = merchant.call(
        "POST", f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close", {"mchid": merchant.mch_id}
    )
    assert (found.status_code, missing.status_code, closed.status_code) == (200, 404, 204)
    for response in (found, missing, closed):
        assert response.headers["Wechatpay-Serial"] == merchant.issued["wechatpay_public_key_id"]
        assert abs(int(response.headers["Wechatpay-Timestamp"]) - time.time()) < 60
        assert response.headers["Request-ID"]
        assert signed_by(response, merchant.wechatpay_public_key)
    assert closed.content == b""


# --- orders --------------------------------------------------------------------------------------------


def test_prepay_then_query_then_pay_through_the_control_api(merchant, appid, sandbox):
    out_trade_no = new_order_number()
    body = merchant.prepay_body(appid, out_trade_no, time_expire=_beijing_in(minutes=30))
    first = merchant.call("POST", "/v3/pay/transactions/jsapi", body)
    again = merchant.call("POST", "/v3/pay/transactions/jsapi", body)
    assert first.json()["prepay_id"] == again.json()["prepay_id"]
    query = f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={merchant.mch_id}"
    unpaid = merchant.call("GET", query).json()
    assert unpaid["trade_state"] == "NOTPAY" and "transaction_id" not in unpaid
    assert (unpaid["amount"]["total"], unpaid["payer"]["openid"], unpaid["mchid"]) == (3990, OPENID, merchant.mch_id)
    paid_by_control = sandbox.pay_order(out_trade_no, mch_id=merchant.mch_id)
    assert paid_by_control["notification"]["policy"] == "pay_notification_v3"  # v3's own (test_pay_v3_notifications)
    paid = merchant.call("GET", query).json()
    assert paid["trade_state"] == "SUCCESS"
    assert paid["transaction_id"] == paid_by_control["order"]["transaction_id"]
    assert paid["success_time"].endswith(BEIJING_OFFSET)
    assert paid["amount"]["payer_total"] == 3990


def test_one_order_book_v2_sees_v3_orders(merchant, appid, url):
    out_trade_no = prepaid(merchant, appid)
    answer = pay_post(url, "pay/orderquery", {"out_trade_no": out_trade_no})
    assert (answer["result_code"], answer["trade_state"], answer["total_fee"]) == ("SUCCESS", "NOTPAY", "3990")


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"description": None}, 400, "PARAM_ERROR"),
        ({"amount": {"total": 0, "currency": "CNY"}}, 400, "PARAM_ERROR"),
        ({"amount": {"total": 100, "currency": "USD"}}, 400, "PARAM_ERROR"),
        ({"out_trade_no": "bad no!"}, 400, "PARAM_ERROR"),
        ({"time_expire": "20261205120000"}, 400, "PARAM_ERROR"),
        ({"appid": "wx0000000000000000"}, 400, "APPID_MCHID_NOT_MATCH"),
    ],
    ids=["no-description", "zero-total", "not-cny", "bad-out-trade-no", "not-rfc3339", "another-appid"],
)
def test_prepay_refusals(merchant, appid, changes, status, code):
    body = merchant.prepay_body(appid, new_order_number())
    body.update(changes)
    body = {name: value for name, value in body.items() if value is not None}
    assert_error(merchant.call("POST", "/v3/pay/transactions/jsapi", body), status, code)


@pytest.mark.parametrize("seconds", [30, 4 * 60 + 50])
def test_prepay_with_time_expire_under_five_minutes_is_refused(merchant, appid, seconds):
    # JSAPI下单 time_expire: "time_expire时间过短，刷卡至少1分钟，其他5分钟" (JSAPI is not 刷卡).
    body = merchant.prepay_body(appid, new_order_number(), time_expire=_beijing_in(seconds=seconds))
    refused = assert_error(merchant.call("POST", "/v3/pay/transactions/jsapi", body), 400, "PARAM_ERROR")
    assert "time_expire" in refused["message"] and "5分钟" in refused["message"]
    assert refused["detail"]["field"] == "time_expire"
    assert merchant.call("POST", "/v3/pay/transactions/jsapi", body | {"time_expire": _beijing_in(minutes=6)}).ok


def test_close_within_five_minutes_of_the_order_is_system_error_and_the_order_stays_open(merchant, appid, sandbox):
    # 关闭订单: "订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟"; no code of its own, so SYSTEM_ERROR (retry).
    out_trade_no = prepaid(merchant, appid)
    close = f"/v3/pay/transactions/out-trade-no/{out_trade_no}/close"
    query = f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={merchant.mch_id}"
    too_soon = merchant.call("POST", close, {"mchid": merchant.mch_id})
    refused = assert_error(too_soon, 500, "SYSTEM_ERROR")
    assert "5分钟" in refused["message"] and signed_by(too_soon, merchant.wechatpay_public_key)
    assert merchant.call("GET", query).json()["trade_state"] == "NOTPAY"
    sandbox.advance_clock(5 * 60 - 5)
    assert_error(merchant.call("POST", close, {"mchid": merchant.mch_id}), 500, "SYSTEM_ERROR")
    sandbox.advance_clock(5)
    assert merchant.call("POST", close, {"mchid": merchant.mch_id}).status_code == 204
    assert merchant.call("GET", query).json()["trade_state"] == "CLOSED"


def test_the_same_out_trade_no_with_other_parameters_is_out_trade_no_used(merchant, appid):
    out_trade_no = prepaid(merchant, appid)
    body = merchant.prepay_body(appid, out_trade_no, amount={"total": 1, "currency": "CNY"})
    assert_error(merchant.call("POST", "/v3/pay/transactions/jsapi", body), 403, "OUT_TRADE_NO_USED")


def test_paid_and_closed_orders_refuse_prepay_and_close(merchant, appid, sandbox):
    paid = prepaid(merchant, appid)
    sandbox.pay_order(paid, mch_id=merchant.mch_id)
    body = merchant.prepay_body(appid, paid)
    assert_error(merchant.call("POST", "/v3/pay/transactions/jsapi", body), 403, "ORDERPAID")
    close = {"mchid": merchant.mch_id}
    assert_error(merchant.call("POST", f"/v3/pay/transactions/out-trade-no/{paid}/close", close), 403, "ORDERPAID")
    closed = prepaid(merchant, appid)
    sandbox.advance_clock(5 * 60)  # 关闭订单: not within 5 minutes of the order's creation
    assert merchant.call("POST", f"/v3/pay/transactions/out-trade-no/{closed}/close", close).status_code == 204
    assert_error(merchant.call("POST", f"/v3/pay/transactions/out-trade-no/{closed}/close", close), 400, "ORDER_CLOSED")
    body = merchant.prepay_body(appid, closed)
    assert_error(merchant.call("POST", "/v3/pay/transactions/jsapi", body), 400, "ORDER_CLOSED")


def test_an_unknown_order_is_404_order_not_exist(merchant):
    unknown = new_order_number()
    query = f"/v3/pay/transactions/out-trade-no/{unknown}?mchid={merchant.mch_id}"
    assert_error(merchant.call("GET", query), 404, "ORDER_NOT_EXIST")
    close = f"/v3/pay/transactions/out-trade-no/{unknown}/close"
    assert_error(merchant.call("POST", close, {"mchid": merchant.mch_id}), 404, "ORDER_NOT_EXIST")


@pytest.mark.parametrize(("code", "status"), [("FREQUENCY_LIMITED", 429), ("SYSTEM_ERROR", 500)])
def test_injected_faults_answer_in_v3s_shape(merchant, appid, sandbox, code, status):
    sandbox.add_fault("/v3/pay/transactions/jsapi", errcode=code)
    assert_error(
        merchant.call("POST", "/v3/pay/transactions/jsapi", merchant.prepay_body(appid, "X" * 8)), status, code
    )
    (received,) = sandbox.received("/v3/pay/transactions/jsapi")
    assert received["errcode"] == code


# --- refunds -------------------------------------------------------------------------------------------


def test_refund_and_its_query(merchant, appid, sandbox):
    out_trade_no = prepaid(merchant, appid)
    sandbox.pay_order(out_trade_no, mch_id=merchant.mch_id)
    body = {"out_trade_no": out_trade_no, "out_refund_no": out_trade_no + "R01"}
    body["amount"] = {"refund": 1000, "total": 3990, "currency": "CNY"}
    refund = merchant.call("POST", "/v3/refund/domestic/refunds", body)
    assert refund.status_code == 200 and signed_by(refund, merchant.wechatpay_public_key)
    assert refund.json()["status"] == "PROCESSING"
    assert refund.json()["amount"]["refund"] == 1000
    sandbox.advance_clock(60)
    queried = merchant.call("GET", f"/v3/refund/domestic/refunds/{out_trade_no}R01").json()
    assert (queried["status"], queried["refund_id"]) == ("SUCCESS", refund.json()["refund_id"])
    assert queried["success_time"].endswith(BEIJING_OFFSET)
    over = {**body, "out_refund_no": out_trade_no + "R02", "amount": {"refund": 3000, "total": 3990, "currency": "CNY"}}
    assert_error(merchant.call("POST", "/v3/refund/domestic/refunds", over), 400, "INVALID_REQUEST")
    changed = {**body, "amount": {"refund": 999, "total": 3990, "currency": "CNY"}}
    assert_error(merchant.call("POST", "/v3/refund/domestic/refunds", changed), 400, "INVALID_REQUEST")


def test_refund_refusals(merchant, appid):
    unpaid = prepaid(merchant, appid)
    amount = {"refund": 100, "total": 3990, "currency": "CNY"}
    body = {"out_trade_no": unpaid, "out_refund_no": unpaid + "R01", "amount": amount}
    assert_error(merchant.call("POST", "/v3/refund/domestic/refunds", body), 400, "INVALID_REQUEST")
    missing = {**body, "out_trade_no": new_order_number()}
    assert_error(merchant.call("POST", "/v3/refund/domestic/refunds", missing), 404, "RESOURCE_NOT_EXISTS")
    over_total = {**body, "amount": {"refund": 4000, "total": 3990, "currency": "CNY"}}
    assert_error(merchant.call("POST", "/v3/refund/domestic/refunds", over_total), 400, "PARAM_ERROR")
    assert_error(merchant.call("GET", f"/v3/refund/domestic/refunds/{unpaid}R09"), 404, "RESOURCE_NOT_EXISTS")


# --- bills and certificates -----------------------------------------------------------------------------


def test_the_trade_bill_has_its_sha1_and_its_download_is_unsigned(merchant, appid, sandbox):
    out_trade_no = prepaid(merchant, appid)
    sandbox.pay_order(out_trade_no, mch_id=merchant.mch_id)
    today = datetime.fromtimestamp(sandbox.advance_clock(0)["now"]).astimezone(_beijing()).date()
    sandbox.advance_clock(86400 + 11 * 3600)
    answer = merchant.call("GET", f"/v3/bill/tradebill?bill_date={today.isoformat()}&bill_type=ALL&tar_type=GZIP")
    assert answer.status_code == 200 and signed_by(answer, merchant.wechatpay_public_key)
    bill = answer.json()
    assert bill["hash_type"] == "SHA1"
    assert bill["download_url"].startswith(merchant.base_url)
    path = bill["download_url"][len(merchant.base_url.rstrip("/")) :]
    download = merchant.call("GET", path)
    assert download.status_code == 200 and "Wechatpay-Signature" not in download.headers
    text = gzip.decompress(download.content)
    assert hashlib.sha1(text).hexdigest() == bill["hash_value"]  # of the bill as unzipped
    assert out_trade_no in text.decode()
    assert_error(merchant.call("GET", path.replace("token=", "token=x")), 400, "INVALID_REQUEST")
    sandbox.advance_clock(31)  # download_url lives 30 seconds
    assert_error(merchant.call("GET", path), 400, "INVALID_REQUEST")


def test_trade_bill_refusals(merchant, sandbox):
    now = datetime.fromtimestamp(sandbox.advance_clock(0)["now"]).astimezone(_beijing())
    yesterday = (now - timedelta(days=1)).date()
    morning = now.replace(hour=8, minute=0, second=0, microsecond=0) + timedelta(days=1)
    sandbox.advance_clock((morning - now).total_seconds())
    today = now.date()
    creating = merchant.call("GET", f"/v3/bill/tradebill?bill_date={today.isoformat()}")
    assert_error(creating, 400, "STATEMENT_CREATING")
    assert_error(merchant.call("GET", f"/v3/bill/tradebill?bill_date={yesterday}"), 400, "NO_STATEMENT_EXIST")
    assert_error(merchant.call("GET", "/v3/bill/tradebill?bill_date=20261201"), 400, "PARAM_ERROR")
    assert_error(merchant.call("GET", f"/v3/bill/tradebill?bill_date={yesterday}&bill_type=X"), 400, "PARAM_ERROR")


@pytest.fixture
def platform_merchant(sandbox, sandbox_server, settings) -> V3Merchant:
    """A merchant WeChat Pay signs for with platform certificates; removed after (merchants outlive a reset)."""
    mch_id = "1900007772"
    sandbox.register_merchant(
        mch_id=mch_id,
        api_key="0123456789abcdefghijklmnopqrstuv",
        appid=settings.WECHAT_MINI_PROGRAM_APPID,
        v3_verification="platform_certificate",
    )
    yield V3Merchant(sandbox, mch_id, sandbox_server.tls.ca_path)
    sandbox.remove_merchant(mch_id)


def test_platform_certificates_decrypt_with_the_apiv3_key_and_rotate(sandbox, platform_merchant):
    merchant, mch_id = platform_merchant, platform_merchant.mch_id
    first = merchant.call("GET", "/v3/certificates")
    (entry,) = first.json()["data"]
    encrypted = entry["encrypt_certificate"]
    assert (encrypted["algorithm"], encrypted["associated_data"]) == ("AEAD_AES_256_GCM", "certificate")
    pem = AESGCM(merchant.issued["apiv3_key"].encode()).decrypt(
        encrypted["nonce"].encode(), base64.b64decode(encrypted["ciphertext"]), b"certificate"
    )
    certificate = load_pem_x509_certificate(pem)
    assert f"{certificate.serial_number:X}" == entry["serial_no"] == first.headers["Wechatpay-Serial"]
    assert signed_by(first, certificate.public_key())
    rotated = sandbox.rotate_platform_certificate(mch_id)["serial_no"]
    second = merchant.call("GET", "/v3/certificates")
    assert [item["serial_no"] for item in second.json()["data"]] == [entry["serial_no"], rotated]
    assert second.headers["Wechatpay-Serial"] == rotated


def _beijing():
    return datetime.strptime(BEIJING_OFFSET, "%z").tzinfo


def _beijing_in(**delta) -> str:
    return (datetime.now(_beijing()) + timedelta(**delta)).isoformat(timespec="seconds")


def test_tampered_answers_are_signed_wrong_once_and_a_reset_forgets_pending_tampering(merchant, appid, sandbox):
    out_trade_no = prepaid(merchant, appid)
    query = f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={merchant.mch_id}"
    sandbox.tamper_v3_answers(merchant.mch_id, "bad_signature")
    assert not signed_by(merchant.call("GET", query), merchant.wechatpay_public_key)
    assert signed_by(merchant.call("GET", query), merchant.wechatpay_public_key)
    sandbox.tamper_v3_answers(merchant.mch_id, "bad_signature")
    sandbox.reset()
    after_reset = merchant.call("GET", query)
    assert_error(after_reset, 404, "ORDER_NOT_EXIST")  # the reset forgot the order too
    assert signed_by(after_reset, merchant.wechatpay_public_key)
