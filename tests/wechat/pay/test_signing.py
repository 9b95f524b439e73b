import xml.etree.ElementTree as ElementTree

import pytest

from wechat.pay.signing import HMAC_SHA256, MD5, sign, signature_valid

# DESIGN.md's test vector (WeChat Pay v2, 安全规范 / 签名算法).
VECTOR = {
    "appid": "wxd930ea5d5a258f4f",
    "body": "test",
    "device_info": "1000",
    "mch_id": "10000100",
    "nonce_str": "ibuaiVcKdpRxkhJA",
}
VECTOR_KEY = "192006250b4c09247ec02edce69f6a2d"
SAMPLE_KEY = "sandboxapikey0000000000000000000"


def fields(xml: bytes) -> dict[str, str]:
    return {element.tag: element.text or "" for element in ElementTree.fromstring(xml)}


@pytest.mark.parametrize(
    ("sign_type", "expected"),
    [
        (MD5, "9A0A8659F005D6984697E2CA0A9CF3B7"),
        (HMAC_SHA256, "6A9AE1657590FD6257D693A078E1C3E4BB6BA4DC30B23E0EE2496E54170DACD6"),
    ],
)
def test_the_documented_vector(sign_type, expected):
    assert sign(VECTOR, VECTOR_KEY, sign_type) == expected


def test_empty_values_and_an_existing_sign_are_left_out():
    assert sign({**VECTOR, "attach": "", "sign": "X"}, VECTOR_KEY) == "9A0A8659F005D6984697E2CA0A9CF3B7"


@pytest.mark.parametrize(
    ("name", "sign_type"), [("pay-notify-md5.xml", MD5), ("pay-notify-hmac-sha256.xml", HMAC_SHA256)]
)
def test_the_shared_samples_verify_and_a_one_character_change_fails(wechat_sample, name, sign_type):
    sample = fields(wechat_sample(name))
    assert signature_valid(sample, SAMPLE_KEY, sign_type)
    assert not signature_valid({**sample, "total_fee": "3991"}, SAMPLE_KEY, sign_type)
    assert not signature_valid(sample, SAMPLE_KEY[:-1] + "1", sign_type)
    other = MD5 if sign_type == HMAC_SHA256 else HMAC_SHA256
    assert not signature_valid(sample, SAMPLE_KEY, other)


def test_a_missing_signature_is_invalid():
    assert not signature_valid(VECTOR, VECTOR_KEY)


def test_an_unknown_sign_type_is_refused():
    with pytest.raises(ValueError):
        sign(VECTOR, VECTOR_KEY, "SHA1")
