"""WeChat Pay v2 signing in the sandbox, and how it checks a request before anything else.

Rules checked here and where they come from:
- 微信支付 V2 开发文档, 安全规范 / 签名算法: non-empty parameters but sign, sorted, `k=v&...&key=API_KEY`,
  MD5 or HMAC-SHA256, upper-case hex; the test vectors in DESIGN.md; sign_type absent means MD5.
- 统一下单, 返回结果 / 错误码: a request that cannot be taken is return_code FAIL with return_msg
  ("签名错误", "XML格式错误", "post数据为空"); a business refusal is result_code FAIL with err_code
  (MCHID_NOT_EXIST, APPID_MCHID_NOT_MATCH, LACK_PARAMS), and answers are signed as requests are.
"""

import pytest
import requests
from wechatpy.pay import WeChatPay
from wechatpy.pay.utils import calculate_signature, calculate_signature_hmac

from tests.wechat_sandbox.pay_calls import (
    TIMEOUT,
    assert_refused,
    assert_signed,
    build,
    merchant,
    order_fields,
    parse,
    pay_post,
    test_sign,
)
from wechat_sandbox.pay_signing import sign, verify

VECTOR = dict(
    pair.split("=")
    for pair in "appid=wxd930ea5d5a258f4f&body=test&device_info=1000&mch_id=10000100&nonce_str=ibuaiVcKdpRxkhJA".split(
        "&"
    )
)
VECTOR_KEY = "192006250b4c09247ec02edce69f6a2d"
SAMPLE_KEY = "sandboxapikey0000000000000000000"


def test_the_sandbox_signs_the_documented_vectors():
    assert sign(VECTOR, VECTOR_KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"
    assert sign(VECTOR, VECTOR_KEY, "HMAC-SHA256") == "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"
    # The tests' own signer and wechatpy agree, so a test failing later is the sandbox's fault, not the signer's.
    assert test_sign(VECTOR, VECTOR_KEY) == calculate_signature(VECTOR, VECTOR_KEY) == sign(VECTOR, VECTOR_KEY)
    assert test_sign(VECTOR, VECTOR_KEY, "HMAC-SHA256") == calculate_signature_hmac(VECTOR, VECTOR_KEY)


def test_empty_values_and_sign_itself_are_left_out():
    assert sign({**VECTOR, "attach": "", "sign": "X"}, VECTOR_KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"


@pytest.mark.parametrize(
    "sample, sign_type", [("pay-notify-md5.xml", "MD5"), ("pay-notify-hmac-sha256.xml", "HMAC-SHA256")]
)
def test_the_shared_notification_samples_verify_and_a_one_character_change_fails(wechat_sample, sample, sign_type):
    fields = parse(wechat_sample(sample))
    assert fields.get("sign_type", "MD5") == sign_type

    assert verify(fields, SAMPLE_KEY, sign_type)
    assert not verify({**fields, "total_fee": "3991"}, SAMPLE_KEY, sign_type)
    assert not verify(fields, SAMPLE_KEY, "MD5" if sign_type != "MD5" else "HMAC-SHA256")
    assert not verify({**fields, "sign": ""}, SAMPLE_KEY, sign_type)


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_answers_are_signed_with_the_requests_sign_type(sandbox, sandbox_server, sign_type):
    answer = pay_post(sandbox_server.url, "pay/unifiedorder", order_fields("SIGN-" + sign_type), sign_type=sign_type)

    assert answer["return_code"] == "SUCCESS" and answer["result_code"] == "SUCCESS", answer
    assert_signed(answer, sign_type)


@pytest.mark.parametrize("sign_type", ["MD5", "HMAC-SHA256"])
def test_a_wrong_signature_is_refused_before_anything_else(sandbox, sandbox_server, sign_type):
    answer = pay_post(
        sandbox_server.url, "pay/unifiedorder", order_fields("BADSIGN1"), sign_type=sign_type, key="K" * 32
    )

    assert answer == {"return_code": "FAIL", "return_msg": "签名错误"}
    orders = requests.get(f"{sandbox_server.url}sandbox/pay/orders", timeout=TIMEOUT).json()
    assert orders["count"] == 0


def test_a_signature_made_with_the_other_method_is_refused(sandbox, sandbox_server):
    mch_id, key, appid = merchant()
    params = {"appid": appid, "mch_id": mch_id, "nonce_str": "n1", "out_trade_no": "X1", "sign_type": "HMAC-SHA256"}
    params["sign"] = test_sign(params, key, "MD5")

    answer = parse(requests.post(sandbox_server.url + "pay/orderquery", data=build(params), timeout=TIMEOUT).content)

    assert answer == {"return_code": "FAIL", "return_msg": "签名错误"}


def test_an_unknown_merchant_is_refused_unsigned(sandbox, sandbox_server):
    params = {"appid": merchant()[2], "mch_id": "1900000109", "nonce_str": "n1", "out_trade_no": "X1"}
    params["sign"] = test_sign(params, "K" * 32)

    answer = parse(requests.post(sandbox_server.url + "pay/orderquery", data=build(params), timeout=TIMEOUT).content)

    assert answer["result_code"] == "FAIL" and answer["err_code"] == "MCHID_NOT_EXIST"
    assert "sign" not in answer  # there is no key to sign with


def test_an_appid_not_the_merchants_is_refused(sandbox, sandbox_server):
    answer = pay_post(sandbox_server.url, "pay/orderquery", {"out_trade_no": "X1", "appid": "wxsomeoneelse00001"})

    assert_refused(answer, "APPID_MCHID_NOT_MATCH")


def test_a_missing_parameter_is_lack_params(sandbox, sandbox_server):
    fields = order_fields("LACK1")
    del fields["notify_url"]

    answer = pay_post(sandbox_server.url, "pay/unifiedorder", fields)

    assert_refused(answer, "LACK_PARAMS")
    assert "notify_url" in answer["err_code_des"]


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    b"<xml><mch_id>10000100</mch_id><body>&b;</body></xml>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><body>&x;</body></xml>'
)


@pytest.mark.parametrize(
    "body, return_msg",
    [
        (b"", "post数据为空"),
        (b"<xml><mch_id>10000100</mch_id>", "XML格式错误"),
        (b"not xml at all", "XML格式错误"),
        (BILLION_LAUGHS, "XML格式错误"),
        (EXTERNAL_ENTITY, "XML格式错误"),
        (b"<!DOCTYPE xml><xml><mch_id>10000100</mch_id></xml>", "XML格式错误"),
        (b"<xml><mch_id><inner>1</inner></mch_id></xml>", "XML格式错误"),
        (b"<xml><mch_id>1</mch_id><mch_id>2</mch_id></xml>", "XML格式错误"),
        (b"<root><mch_id>10000100</mch_id></root>", "XML格式错误"),
        ("<xml><body>\u4e2d</body></xml>".encode("gbk"), "XML格式错误"),
    ],
)
@pytest.mark.parametrize("path", ["pay/unifiedorder", "pay/orderquery", "pay/closeorder"])
def test_bad_xml_is_refused_with_return_code_fail_never_a_500(sandbox, sandbox_server, body, return_msg, path):
    answer = requests.post(sandbox_server.url + path, data=body, timeout=TIMEOUT)

    assert answer.status_code == 200
    assert parse(answer.content) == {"return_code": "FAIL", "return_msg": return_msg}


def test_wechatpy_pointed_at_the_sandbox_is_a_second_client_that_agrees(sandbox, sandbox_server):
    mch_id, key, appid = merchant()
    client = WeChatPay(appid=appid, api_key=key, mch_id=mch_id)
    client.API_BASE_URL = sandbox_server.url

    created = client.order.create(
        trade_type="JSAPI",
        body="Ceramic mug x1",
        total_fee=3990,
        notify_url="http://127.0.0.1:9/pay/notify/",
        client_ip="127.0.0.1",
        user_id="oUpF8uMEb4qRXf22hE3X68TekukE",
        out_trade_no="WECHATPY1",
    )

    assert created["prepay_id"].startswith("wx")
    assert client.check_signature(dict(created))  # wechatpy verifies the sandbox's MD5 answer
    queried = client.order.query(out_trade_no="WECHATPY1")
    assert queried["trade_state"] == "NOTPAY"


def test_an_unknown_sign_type_and_a_get_are_refused(sandbox, sandbox_server):
    mch_id, key, appid = merchant()
    params = {"appid": appid, "mch_id": mch_id, "nonce_str": "n1", "out_trade_no": "X1", "sign_type": "SHA1"}
    params["sign"] = test_sign(params, key)

    answer = parse(requests.post(sandbox_server.url + "pay/orderquery", data=build(params), timeout=TIMEOUT).content)
    got = parse(requests.get(sandbox_server.url + "pay/orderquery", timeout=TIMEOUT).content)

    assert answer == {"return_code": "FAIL", "return_msg": "签名类型错误"}
    assert got == {"return_code": "FAIL", "return_msg": "require POST method"}


ODD_VALUES = ["9" * 40, "-1", "0", "99991231235959", "00000000", "中文", "a" * 300, "1e5", " ", "<>&'\""]


@pytest.mark.parametrize(
    "path",
    [
        "pay/unifiedorder",
        "pay/orderquery",
        "pay/closeorder",
        "secapi/pay/refund",
        "pay/refundquery",
        "pay/downloadbill",
    ],
)
def test_odd_values_in_a_well_signed_request_never_crash_the_sandbox(sandbox, sandbox_server, path):
    names = ["out_trade_no", "transaction_id", "total_fee", "refund_fee", "out_refund_no", "refund_id", "time_expire"]
    names += ["bill_date", "bill_type", "tar_type", "openid", "notify_url", "trade_type", "body", "spbill_create_ip"]
    for value in ODD_VALUES:
        answer = pay_post(sandbox_server.url, path, dict.fromkeys(names, value))

        assert answer["return_code"] in ("SUCCESS", "FAIL"), answer
        assert answer.get("return_msg") != "system error", answer  # what a sandbox bug answers
        assert answer.get("result_code") != "SUCCESS", answer  # none of these is a valid request
