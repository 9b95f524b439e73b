"""APIv3 signatures and AEAD_AES_256_GCM (wechat.pay.v3_signing).

Per 微信支付 APIv3 文档, 签名生成 / 签名验证 / 回调报文解密.
"""

import base64
import re
import time

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from wechat.pay.v3_signing import (
    InvalidWechatpaySignature,
    ResourceNotDecrypted,
    UnknownWechatpaySerial,
    answer_verify,
    authorization_header,
    pay_sign,
    request_payment_parameters,
    resource_decrypt,
)

APIV3_KEY = "0123456789abcdefghijklmnopqrstuv"
SERIAL = "PUB_KEY_ID_0114232134912410000000000001"


@pytest.fixture(scope="module")
def merchant_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def wechatpay_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def raw_sign(private_key, message: bytes) -> str:
    return base64.b64encode(private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def verifies(public_key, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def signed_headers(wechatpay_key, body: bytes, *, timestamp: int | None = None, serial: str = SERIAL) -> dict:
    timestamp = int(time.time()) if timestamp is None else timestamp
    nonce = "593BEC0C930BF1AFEB40B4A08C8FB242"
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    return {
        "Wechatpay-Timestamp": str(timestamp),
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": raw_sign(wechatpay_key, message),
        "Wechatpay-Serial": serial,
    }


def test_the_authorization_header_signs_method_url_timestamp_nonce_and_body(merchant_key):
    body = '{"appid":"wx1","mchid":"1900000001"}'
    header = authorization_header(
        mch_id="1900000001",
        serial_no="1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",
        private_key=merchant_key,
        method="POST",
        url="/v3/pay/transactions/jsapi",
        body=body,
        timestamp="1554208460",
        nonce="593BEC0C930BF1AFEB40B4A08C8FB242",
    )
    schema, _, rest = header.partition(" ")
    assert schema == "WECHATPAY2-SHA256-RSA2048"
    fields = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    assert fields["mchid"] == "1900000001"
    assert fields["serial_no"] == "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C"
    assert (fields["timestamp"], fields["nonce_str"]) == ("1554208460", "593BEC0C930BF1AFEB40B4A08C8FB242")
    message = f"POST\n/v3/pay/transactions/jsapi\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n{body}\n".encode()
    assert verifies(merchant_key.public_key(), message, fields["signature"])
    assert not verifies(merchant_key.public_key(), message.replace(b"jsapi", b"app"), fields["signature"])


def test_an_answer_signed_by_wechatpay_verifies(wechatpay_key):
    body = b'{"prepay_id":"wx201410272009395522657a690389285100"}'
    serial = answer_verify(
        headers=signed_headers(wechatpay_key, body),
        body=body,
        public_key_for_serial={SERIAL: wechatpay_key.public_key()}.get,
    )
    assert serial == SERIAL


def test_header_names_are_read_in_any_case(wechatpay_key):
    body = b"{}"
    headers = {name.lower(): value for name, value in signed_headers(wechatpay_key, body).items()}
    assert answer_verify(headers=headers, body=body, public_key_for_serial=lambda serial: wechatpay_key.public_key())


@pytest.mark.parametrize("change", ["body", "signature", "nonce"])
def test_one_changed_byte_is_refused(wechatpay_key, change):
    body = b'{"amount":{"total":100}}'
    headers = signed_headers(wechatpay_key, body)
    if change == "body":
        body = body.replace(b"100", b"101")
    elif change == "signature":
        signature = headers["Wechatpay-Signature"]
        headers["Wechatpay-Signature"] = ("B" if signature[0] == "A" else "A") + signature[1:]
    else:
        headers["Wechatpay-Nonce"] = headers["Wechatpay-Nonce"][:-1] + "3"
    with pytest.raises(InvalidWechatpaySignature, match="does not verify"):
        answer_verify(headers=headers, body=body, public_key_for_serial=lambda serial: wechatpay_key.public_key())


def test_another_keys_signature_is_refused(wechatpay_key, merchant_key):
    body = b"{}"
    with pytest.raises(InvalidWechatpaySignature):
        answer_verify(
            headers=signed_headers(merchant_key, body),
            body=body,
            public_key_for_serial=lambda s: wechatpay_key.public_key(),
        )


@pytest.mark.parametrize("minutes", [6, -6])
def test_a_timestamp_six_minutes_off_is_refused(wechatpay_key, minutes):
    body = b"{}"
    headers = signed_headers(wechatpay_key, body, timestamp=int(time.time()) - minutes * 60)
    with pytest.raises(InvalidWechatpaySignature, match="5 minutes"):
        answer_verify(headers=headers, body=body, public_key_for_serial=lambda serial: wechatpay_key.public_key())


def test_a_timestamp_four_minutes_old_is_accepted(wechatpay_key):
    body = b"{}"
    headers = signed_headers(wechatpay_key, body, timestamp=int(time.time()) - 240)
    assert answer_verify(headers=headers, body=body, public_key_for_serial=lambda serial: wechatpay_key.public_key())


def test_an_unknown_serial_is_refused_naming_it(wechatpay_key):
    body = b"{}"
    with pytest.raises(UnknownWechatpaySerial) as refused:
        answer_verify(
            headers=signed_headers(wechatpay_key, body, serial="5157F09EFDC096DE15EBE81A47057A72"),
            body=body,
            public_key_for_serial={SERIAL: wechatpay_key.public_key()}.get,
        )
    assert refused.value.serial == "5157F09EFDC096DE15EBE81A47057A72"


def test_missing_headers_are_refused(wechatpay_key):
    body = b"{}"
    headers = signed_headers(wechatpay_key, body)
    del headers["Wechatpay-Serial"]
    with pytest.raises(InvalidWechatpaySignature, match="required"):
        answer_verify(headers=headers, body=body, public_key_for_serial=lambda serial: wechatpay_key.public_key())


def test_pay_sign_is_rsa_over_appid_timestamp_nonce_package(merchant_key):
    signature = pay_sign(
        private_key=merchant_key,
        appid="wx8888888888888888",
        timestamp="1414561699",
        nonce="5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        package="prepay_id=wx201410272009395522657a690389285100",
    )
    message = (
        b"wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n"
        b"prepay_id=wx201410272009395522657a690389285100\n"
    )
    assert verifies(merchant_key.public_key(), message, signature)


def test_request_payment_parameters_are_complete_and_signed(merchant_key):
    params = request_payment_parameters(private_key=merchant_key, appid="wx8888888888888888", prepay_id="wx2014")
    assert params["signType"] == "RSA"
    assert params["package"] == "prepay_id=wx2014"
    message = f"wx8888888888888888\n{params['timeStamp']}\n{params['nonceStr']}\nprepay_id=wx2014\n".encode()
    assert verifies(merchant_key.public_key(), message, params["paySign"])


def test_a_resource_decrypts_with_the_apiv3_key_nonce_and_associated_data():
    plaintext = b'{"out_trade_no":"1217752501201407033233368018","amount":{"total":100}}'
    ciphertext = base64.b64encode(
        AESGCM(APIV3_KEY.encode()).encrypt(b"fdasflkja484", plaintext, b"transaction")
    ).decode()
    decrypted = resource_decrypt(
        apiv3_key=APIV3_KEY, nonce="fdasflkja484", ciphertext=ciphertext, associated_data="transaction"
    )
    assert decrypted == plaintext


@pytest.mark.parametrize("change", ["ciphertext", "associated_data", "nonce", "key"])
def test_a_changed_resource_does_not_decrypt(change):
    plaintext = b'{"out_trade_no":"1"}'
    raw = bytearray(AESGCM(APIV3_KEY.encode()).encrypt(b"fdasflkja484", plaintext, b"transaction"))
    nonce, associated_data, key = "fdasflkja484", "transaction", APIV3_KEY
    if change == "ciphertext":
        raw[0] ^= 1
    elif change == "associated_data":
        associated_data = "refund"
    elif change == "nonce":
        nonce = "fdasflkja485"
    else:
        key = APIV3_KEY[::-1]
    with pytest.raises(ResourceNotDecrypted):
        resource_decrypt(
            apiv3_key=key,
            nonce=nonce,
            ciphertext=base64.b64encode(bytes(raw)).decode(),
            associated_data=associated_data,
        )
