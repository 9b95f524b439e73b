"""Payment notifications: parsed only once their signature is ours; XML tricks refused."""

import secrets
import threading
import time
from datetime import datetime, timedelta

import pytest
from werkzeug import Request, Response
from werkzeug.serving import make_server

from wechat.pay.gateway import payment_gateway
from wechat.pay.signing import HMAC_SHA256, MD5, sign
from wechat.pay.v2 import BEIJING, InvalidPayMessage, build_xml

PAY_SUCCESS = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"


@pytest.mark.parametrize(
    ("name", "sign_type"), [("pay-notify-md5.xml", MD5), ("pay-notify-hmac-sha256.xml", HMAC_SHA256)]
)
def test_the_shared_samples_verify(settings, wechat_sample, name, sign_type):
    settings.WECHAT_PAY_API_KEY = "sandboxapikey0000000000000000000"
    notification = payment_gateway().notification_verify(wechat_sample(name), sign_type)
    assert notification.out_trade_no == "20261123150001000042"
    assert notification.transaction_id == "4200002026112312345678901234"
    assert notification.total_fee == 3990
    assert notification.result_code == "SUCCESS"


def test_a_changed_amount_fails_the_signature(settings, wechat_sample):
    settings.WECHAT_PAY_API_KEY = "sandboxapikey0000000000000000000"
    body = wechat_sample("pay-notify-md5.xml").replace(b"<total_fee><![CDATA[3990]]>", b"<total_fee><![CDATA[1]]>")
    with pytest.raises(InvalidPayMessage):
        payment_gateway().notification_verify(body, MD5)


def test_the_wrong_sign_type_fails(settings, wechat_sample):
    settings.WECHAT_PAY_API_KEY = "sandboxapikey0000000000000000000"
    with pytest.raises(InvalidPayMessage):
        payment_gateway().notification_verify(wechat_sample("pay-notify-md5.xml"), HMAC_SHA256)


def test_a_signed_notification_for_another_merchant_or_without_an_amount_is_refused(settings):
    settings.WECHAT_PAY_API_KEY = "sandboxapikey0000000000000000000"
    fields = {"appid": settings.WECHAT_MINI_PROGRAM_APPID, "mch_id": "1900000109", "return_code": "SUCCESS"}
    for changed in ({}, {"mch_id": settings.WECHAT_PAY_MCH_ID}):
        message = {**fields, **changed, "out_trade_no": "1", "transaction_id": "2", "result_code": "SUCCESS"}
        message["sign"] = sign(message, settings.WECHAT_PAY_API_KEY)
        with pytest.raises(InvalidPayMessage):
            payment_gateway().notification_verify(build_xml(message), MD5)


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><return_code>SUCCESS",
        b"not xml",
        b'<!DOCTYPE xml [<!ENTITY e "3990">]><xml><total_fee>&e;</total_fee></xml>',
        b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml></xml>',
    ],
)
def test_malformed_xml_and_dtds_are_refused(body):
    with pytest.raises(InvalidPayMessage):
        payment_gateway().notification_verify(body, MD5)


@pytest.fixture
def receiver():
    """Our notify_url stand-in: records each body and answers WeChat with SUCCESS."""
    bodies: list[bytes] = []

    def app(environ, start_response):
        bodies.append(Request(environ).get_data())
        return Response(PAY_SUCCESS, content_type="text/xml")(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}/pay/notify/", bodies
    server.shutdown()
    server.server_close()


def wait_for(bodies: list[bytes], count: int) -> list[bytes]:
    deadline = time.monotonic() + 10
    while len(bodies) < count and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(bodies) >= count, f"expected {count} notifications, got {len(bodies)}"
    return bodies


@pytest.mark.parametrize("sign_type", [MD5, HMAC_SHA256])
def test_a_notification_the_sandbox_delivered_verifies_and_a_forged_one_does_not(
    settings, sandbox, receiver, sign_type
):
    settings.WECHAT_PAY_SIGN_TYPE = sign_type
    notify_url, bodies = receiver
    gateway = payment_gateway()
    out_trade_no = "N" + secrets.token_hex(8)
    gateway.prepay(
        out_trade_no=out_trade_no,
        total_fee=1250,
        openid="oUpF8uMEb4qRXf22hE3X68TekukE",
        body="Tea x1",
        notify_url=notify_url,
        time_expire=datetime.now(BEIJING) + timedelta(minutes=30),
        client_ip="127.0.0.1",
    )
    paid = sandbox.pay_order(out_trade_no)["order"]
    [delivered] = wait_for(bodies, 1)
    notification = gateway.notification_verify(delivered, sign_type)
    assert (notification.out_trade_no, notification.total_fee) == (out_trade_no, 1250)
    assert notification.transaction_id == paid["transaction_id"]

    sandbox.send_pay_notification(out_trade_no, bad_signature=True)
    forged = wait_for(bodies, 2)[1]
    with pytest.raises(InvalidPayMessage):
        gateway.notification_verify(forged, sign_type)
