"""WeChat Pay v2 calls the sandbox tests make over HTTP, signed by a signer of their own.

The signer here is written again from 微信支付 V2 开发文档, 安全规范 / 签名算法 (not imported
from the sandbox, not wechatpy's), so a mistake in the sandbox's signing cannot cancel out.
"""

import hashlib
import hmac
import secrets
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timedelta, timezone

import requests
from django.conf import settings

TIMEOUT = 10
BEIJING = timezone(timedelta(hours=8))
PAY_SUCCESS = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"
PAY_FAIL = "<xml><return_code><![CDATA[FAIL]]></return_code><return_msg><![CDATA[busy]]></return_msg></xml>"


def merchant() -> tuple[str, str, str]:
    """The settings' merchant: (mch_id, api_key, appid)."""
    return settings.WECHAT_PAY_MCH_ID, settings.WECHAT_PAY_API_KEY, settings.WECHAT_MINI_PROGRAM_APPID


def test_sign(params: dict[str, str], key: str, sign_type: str = "MD5") -> str:
    text = "&".join(f"{k}={params[k]}" for k in sorted(params) if k != "sign" and params[k] != "")
    text += "&key=" + key
    if sign_type == "HMAC-SHA256":
        return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest().upper()
    return hashlib.md5(text.encode()).hexdigest().upper()


test_sign.__test__ = False  # a helper, not a test


def signature_valid(fields: dict[str, str], key: str, sign_type: str = "MD5") -> bool:
    return fields.get("sign") == test_sign(fields, key, sign_type)


def parse(xml: bytes | str) -> dict[str, str]:
    return {element.tag: element.text or "" for element in ElementTree.fromstring(xml)}


def build(fields: dict[str, str]) -> str:
    return "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()) + "</xml>"


def pay_post(
    url: str, path: str, fields: dict[str, str], *, sign_type: str = "MD5", key: str | None = None
) -> dict[str, str]:
    """POST a signed request as a merchant would; returns the answer's fields."""
    mch_id, api_key, appid = merchant()
    params = {"appid": appid, "mch_id": mch_id, "nonce_str": secrets.token_hex(16), **fields}
    if sign_type != "MD5":
        params["sign_type"] = sign_type
    params = {k: v for k, v in params.items() if v is not None}
    params["sign"] = test_sign(params, key or api_key, sign_type)
    if path.startswith("secapi/"):
        answer = secapi_post(url, path, build(params).encode(), mch_id=mch_id)
    else:
        answer = requests.post(url + path, data=build(params).encode(), timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return parse(answer.content)


def secapi_post(url: str, path: str, body: bytes, *, mch_id: str) -> requests.Response:
    """POST to secapi/ as WeChat Pay wants it: over TLS, with the merchant's certificate (the sandbox names both)."""
    tls = control(url, "GET", "tls").json()
    certificate = tls["merchants"][mch_id]
    return requests.post(
        tls["secapi_url"] + path,
        data=body,
        cert=(certificate["cert_path"], certificate["key_path"]),
        verify=tls["ca_path"],
        timeout=TIMEOUT,
    )


def beijing(at: datetime) -> str:
    return at.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def order_fields(out_trade_no: str, **overrides) -> dict[str, str]:
    # One to two hours ahead, on the hour: two calls for one order send the same time_expire unless
    # an hour turns between them (to the second, a repeat would be "other parameters" now and then).
    expire = (datetime.now(BEIJING) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    return {
        "body": "Ceramic mug x1",
        "out_trade_no": out_trade_no,
        "total_fee": "3990",
        "spbill_create_ip": "127.0.0.1",
        "notify_url": "http://127.0.0.1:9/pay/notify/",
        "trade_type": "JSAPI",
        "openid": "oUpF8uMEb4qRXf22hE3X68TekukE",
        "time_expire": beijing(expire),
        **overrides,
    }


def assert_signed(answer: dict[str, str], sign_type: str = "MD5") -> None:
    assert signature_valid(answer, merchant()[1], sign_type), answer


def assert_refused(answer: dict[str, str], err_code: str, sign_type: str = "MD5") -> None:
    assert answer["return_code"] == "SUCCESS", answer
    assert answer["result_code"] == "FAIL", answer
    assert answer["err_code"] == err_code, answer
    assert answer["err_code_des"], answer
    assert_signed(answer, sign_type)


def control(url: str, method: str, path: str, body: dict | None = None) -> requests.Response:
    return requests.request(method, f"{url}sandbox/{path}", json=body, timeout=TIMEOUT)


def pay(url: str, out_trade_no: str, **body) -> requests.Response:
    return control(url, "POST", f"pay/orders/{out_trade_no}/pay", body)
