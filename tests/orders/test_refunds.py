"""Refunds against the WeChat sandbox over real HTTP (secapi/ over TLS with the merchant certificate).

WeChat Pay v2 rules they follow (微信支付 V2 开发文档): 申请退款 needs the merchant certificate and
one out_refund_no is one refund however often asked; 查询退款 gives refund_status_$n
(PROCESSING, SUCCESS, CHANGE, REFUNDCLOSE); 退款结果通知 carries req_info, AES-256-ECB with the
lower-case hex MD5 of the API key, and is repeated until answered return_code SUCCESS.
"""

import base64
import hashlib
from datetime import timedelta

import pytest
import requests
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from django.conf import settings as django_settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from orders.exceptions import OrderTransitionNotAllowed, PaymentNotRefundable, RefundAmountInvalid, RefundExceedsPaid
from orders.models import OrderStatus, Payment, Refund, RefundStatus
from orders.services.refunds import refund_request, refund_submit, refunds_settle_stale
from tests.factories import PaymentFactory
from tests.orders.refund_helpers import paid_payment
from wechat.errors import WeChatPermanentError, WeChatTransientError
from wechat.pay.gateway import merchant_config, payment_gateway
from wechat.pay.interface import MerchantConfig

pytestmark = pytest.mark.django_db

PAY_SUCCESS = b"<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"


@pytest.fixture
def payment(sandbox, sku, place_order) -> Payment:
    return paid_payment(sandbox, place_order([(sku, 1)]))  # 3990 fen


def request_refund(payment: Payment, amount_fen: int, reason: str = "damaged in transit") -> Refund:
    return refund_request(payment_id=payment.pk, amount_fen=amount_fen, reason=reason, staff_user=None)


def backdate(refund: Refund, minutes: int = 11) -> None:
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))


# --- asking for a refund -------------------------------------------------------------


def test_a_partial_refund_reserves_its_amount_and_moves_the_order_to_refunding(payment):
    refund = request_refund(payment, 1000)

    payment.refresh_from_db()
    assert payment.refunded_fen == 1000
    assert (refund.status, refund.amount_fen, refund.out_refund_no) == ("requested", 1000, f"{payment.out_trade_no}R01")
    assert payment.order.__class__.objects.get(pk=payment.order_id).status == OrderStatus.REFUNDING
    assert [event.to_status for event in refund.events.all()] == ["requested"]


def test_a_refund_over_the_paid_amount_is_refused_and_changes_nothing(payment):
    with pytest.raises(RefundExceedsPaid) as refused:
        request_refund(payment, 3991)

    assert "¥39.90 left to refund" in refused.value.message
    payment.refresh_from_db()
    assert payment.refunded_fen == 0 and not Refund.objects.exists()
    assert payment.order.__class__.objects.get(pk=payment.order_id).status == OrderStatus.PAID


def test_refunds_together_stay_within_what_was_paid(payment):
    request_refund(payment, 2000)

    with pytest.raises(RefundExceedsPaid):
        request_refund(payment, 2000)

    second = request_refund(payment, 1990)  # exactly what is left; the order is already refunding
    assert second.out_refund_no.endswith("R02")
    payment.refresh_from_db()
    assert payment.refunded_fen == 3990


def test_the_database_refuses_refunds_beyond_the_amount_whatever_the_code_does(payment):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Payment.objects.filter(pk=payment.pk).update(refunded_fen=payment.amount_fen + 1)


@pytest.mark.parametrize(
    "amount_fen, reason, error", [(0, "x", RefundAmountInvalid), (100, "  ", Exception)], ids=["zero", "no reason"]
)
def test_a_zero_amount_or_a_blank_reason_is_refused(payment, amount_fen, reason, error):
    with pytest.raises(error):
        request_refund(payment, amount_fen, reason)
    assert not Refund.objects.exists()


def test_an_unpaid_payment_cannot_be_refunded(sku, place_order):
    unpaid = PaymentFactory(order=place_order([(sku, 1)]))

    with pytest.raises(PaymentNotRefundable):
        request_refund(unpaid, 100)
    with pytest.raises(PaymentNotRefundable):
        refund_request(order_id=unpaid.order_id, amount_fen=100, reason="x", staff_user=None)


def test_a_refunded_order_cannot_be_refunded_again(payment):
    from orders.models import Order

    Order.objects.filter(pk=payment.order_id).update(status=OrderStatus.REFUNDED)

    with pytest.raises(OrderTransitionNotAllowed):
        refund_request(order_id=payment.order_id, amount_fen=100, reason="again", staff_user=None)
    payment.refresh_from_db()
    assert payment.refunded_fen == 0 and not Refund.objects.exists()


# --- at WeChat -------------------------------------------------------------------------


def test_submitting_makes_one_refund_at_wechat_however_often_it_runs(payment, sandbox):
    refund = request_refund(payment, 1000)

    refund_submit(refund_id=refund.pk)
    refund_submit(refund_id=refund.pk)  # a redelivered task

    refund.refresh_from_db()
    [at_wechat] = sandbox.pay_refunds()
    assert (at_wechat["out_refund_no"], at_wechat["refund_fee"]) == (refund.out_refund_no, 1000)
    assert (refund.status, refund.refund_id) == (RefundStatus.PROCESSING, at_wechat["refund_id"])
    assert [event.to_status for event in refund.events.all()] == ["requested", "processing"]


def test_a_permanent_refusal_fails_the_refund_and_gives_everything_back(payment, sandbox):
    refund = request_refund(payment, 1000)
    sandbox.add_fault("/secapi/pay/refund", errcode="NOTENOUGH")  # 余额不足

    refund_submit(refund_id=refund.pk)

    refund.refresh_from_db()
    payment.refresh_from_db()
    assert refund.status == RefundStatus.FAILED and "NOTENOUGH" in refund.failure_reason
    assert payment.refunded_fen == 0
    order = payment.order.__class__.objects.get(pk=payment.order_id)
    assert order.status == OrderStatus.PAID
    last = order.events.latest("id")
    assert (last.from_status, last.to_status, last.actor) == ("refunding", "paid", "payment")


def test_a_busy_wechat_leaves_the_refund_requested_for_a_retry(payment, sandbox):
    refund = request_refund(payment, 1000)
    sandbox.add_fault("/secapi/pay/refund", errcode="SYSTEMERROR")

    with pytest.raises(WeChatTransientError):
        refund_submit(refund_id=refund.pk)

    refund.refresh_from_db()
    assert refund.status == RefundStatus.REQUESTED
    backdate(refund)
    refunds_settle_stale()  # submitted again, the same out_refund_no
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSING
    assert [r["out_refund_no"] for r in sandbox.pay_refunds()] == [refund.out_refund_no]


def test_a_refund_that_hears_nothing_is_settled_by_refundquery(payment, sandbox):
    refund = request_refund(payment, 3990)
    refund_submit(refund_id=refund.pk)
    backdate(refund)

    assert refunds_settle_stale() == 0  # WeChat still processing it
    refund.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSING

    sandbox.advance_clock(10)  # it goes through (its notification goes nowhere)

    assert refunds_settle_stale() == 1
    refund.refresh_from_db()
    assert refund.status == RefundStatus.SUCCEEDED and refund.settled_at
    assert payment.order.__class__.objects.get(pk=payment.order_id).status == OrderStatus.REFUNDED
    assert refunds_settle_stale() == 0
    assert refund.events.filter(to_status=RefundStatus.SUCCEEDED).count() == 1


def test_a_recent_refund_is_left_to_its_notification(payment, sandbox):
    refund = request_refund(payment, 1000)
    refund_submit(refund_id=refund.pk)
    sandbox.advance_clock(10)

    assert refunds_settle_stale() == 0
    assert sandbox.received("/pay/refundquery") == []


def test_settling_is_scheduled_on_the_orders_queue():
    task = PeriodicTask.objects.get(task="orders.tasks.settle_stale_refunds")

    assert task.enabled
    assert (task.interval.every, task.interval.period, task.queue) == (5, "minutes", "orders")


# --- the merchant certificate ----------------------------------------------------------


def test_secapi_without_a_client_certificate_fails_the_tls_handshake(sandbox, sandbox_server):
    with pytest.raises(requests.exceptions.ConnectionError):  # SSLError is one
        requests.post(
            sandbox_server.secapi_url + "secapi/pay/refund", data=b"<xml></xml>", verify=sandbox_server.tls.ca_path
        )


def test_secapi_over_plain_http_is_refused(sandbox, payment, settings):
    settings.WECHAT_PAY_SECAPI_BASE_URL = settings.WECHAT_PAY_API_BASE_URL

    with pytest.raises(WeChatPermanentError, match="merchant certificate"):
        payment_gateway().refund(out_trade_no=payment.out_trade_no, out_refund_no="X1", total_fee=3990, refund_fee=1)


def test_another_merchants_certificate_is_refused(sandbox, sandbox_server, payment):
    other = sandbox_server.tls.merchant_certificate("1900000109")
    config = MerchantConfig(**{**merchant_config().__dict__, "cert_path": other.cert_path, "key_path": other.key_path})

    with pytest.raises(WeChatPermanentError, match="not merchant"):
        payment_gateway(config).refund(
            out_trade_no=payment.out_trade_no, out_refund_no="X1", total_fee=3990, refund_fee=1
        )
    assert sandbox.pay_refunds() == []


def test_without_certificate_paths_the_gateway_refuses_before_calling(sandbox, payment, settings):
    settings.WECHAT_PAY_CERT_PATH = None

    with pytest.raises(WeChatPermanentError, match="WECHAT_PAY_CERT_PATH"):
        payment_gateway().refund(out_trade_no=payment.out_trade_no, out_refund_no="X1", total_fee=3990, refund_fee=1)
    assert sandbox.received("/secapi/pay/refund") == []


def test_with_the_certificate_the_refund_is_made(sandbox, payment):
    result = payment_gateway().refund(
        out_trade_no=payment.out_trade_no, out_refund_no="X1", total_fee=3990, refund_fee=1
    )

    assert result.refund_fee == 1 and result.refund_id
    assert django_settings.WECHAT_PAY_SECAPI_BASE_URL.startswith("https://")


# --- the refund notification -------------------------------------------------------------


def encrypt(plain: bytes, api_key: str) -> str:
    """Written from 退款结果通知's 解密方式, apart from the sandbox's and the gateway's code."""
    key = hashlib.md5(api_key.encode()).hexdigest().encode()
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    padded = padder.update(plain) + padder.finalize()
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def notification(refund: Refund, **changes: str) -> bytes:
    info = {
        "out_refund_no": refund.out_refund_no,
        "out_trade_no": refund.payment.out_trade_no,
        "refund_id": refund.refund_id or "50300000000000000000000000",
        "transaction_id": refund.payment.transaction_id,
        "total_fee": str(refund.payment.amount_fen),
        "refund_fee": str(refund.amount_fen),
        "settlement_refund_fee": str(refund.amount_fen),
        "refund_status": "SUCCESS",
        "success_time": "2026-11-24 10:00:00",
        "refund_recv_accout": "支付用户的零钱",
        "refund_account": "REFUND_SOURCE_UNSETTLED_FUNDS",
        "refund_request_source": "API",
        **changes,
    }
    root = "<root>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in info.items()) + "</root>"
    req_info = encrypt(root.encode(), django_settings.WECHAT_PAY_API_KEY)
    return (
        f"<xml><return_code>SUCCESS</return_code><appid><![CDATA[{django_settings.WECHAT_MINI_PROGRAM_APPID}]]></appid>"
        f"<mch_id><![CDATA[{django_settings.WECHAT_PAY_MCH_ID}]]></mch_id><nonce_str>abc</nonce_str>"
        f"<req_info><![CDATA[{req_info}]]></req_info></xml>"
    ).encode()


def post_notification(client, body: bytes):
    return client.post("/wechat/pay/refund-notify/", data=body, content_type="text/xml")


@pytest.fixture
def processing_refund(payment) -> Refund:
    refund = request_refund(payment, 1000)
    refund_submit(refund_id=refund.pk)
    refund.refresh_from_db()
    return refund


def test_a_notification_settles_the_refund_and_a_duplicate_changes_nothing(client, processing_refund):
    body = notification(processing_refund)

    first = post_notification(client, body)
    again = post_notification(client, body)

    assert first.status_code == again.status_code == 200
    assert first.content == again.content == PAY_SUCCESS
    processing_refund.refresh_from_db()
    assert processing_refund.status == RefundStatus.SUCCEEDED
    assert processing_refund.events.filter(to_status=RefundStatus.SUCCEEDED).count() == 1
    order = processing_refund.payment.order
    order.refresh_from_db()
    assert order.status == OrderStatus.PARTIALLY_REFUNDED
    assert order.events.filter(to_status=OrderStatus.PARTIALLY_REFUNDED).count() == 1


def test_a_refundclose_notification_fails_the_refund_and_gives_the_amount_back(client, processing_refund):
    response = post_notification(client, notification(processing_refund, refund_status="REFUNDCLOSE"))

    assert response.content == PAY_SUCCESS
    processing_refund.refresh_from_db()
    processing_refund.payment.refresh_from_db()
    assert processing_refund.status == RefundStatus.FAILED
    assert processing_refund.payment.refunded_fen == 0
    assert processing_refund.payment.order.__class__.objects.get(pk=processing_refund.payment.order_id).status == "paid"


@pytest.mark.parametrize(
    "changes",
    [{"refund_fee": "999"}, {"total_fee": "1"}, {"out_trade_no": "SOMEONEELSE"}, {"refund_id": "503999"}],
    ids=["refund_fee", "total_fee", "out_trade_no", "refund_id"],
)
def test_a_notification_that_does_not_match_ours_is_refused_and_changes_nothing(client, processing_refund, changes):
    response = post_notification(client, notification(processing_refund, **changes))

    assert b"<return_code><![CDATA[FAIL]]></return_code>" in response.content
    processing_refund.refresh_from_db()
    assert processing_refund.status == RefundStatus.PROCESSING


def tampered(body: bytes) -> bytes:
    """One base64 character of req_info's last block changed: it no longer decrypts to a message."""
    start = body.index(b"<req_info><![CDATA[") + len(b"<req_info><![CDATA[")
    end = body.index(b"]]></req_info>")
    req_info = body[start:end].rstrip(b"=")
    position = len(req_info) - 3
    changed = b"A" if req_info[position : position + 1] != b"A" else b"B"
    req_info = req_info[:position] + changed + req_info[position + 1 :]
    return body[:start] + req_info + b"=" * (-len(req_info) % 4) + body[end:]


@pytest.mark.parametrize(
    "make_body",
    [
        lambda refund: tampered(notification(refund)),
        lambda refund: notification(refund).replace(b"<req_info><![CDATA[", b"<req_info><![CDATA[!!"),
        lambda refund: notification(refund).replace(django_settings.WECHAT_PAY_MCH_ID.encode(), b"1900000109"),
        lambda refund: notification(refund, out_refund_no="NOSUCHREFUND"),
        lambda refund: b'<!DOCTYPE xml [<!ENTITY e "SUCCESS">]><xml><return_code>&e;</return_code></xml>',
        lambda refund: b"<xml><return_code>SUCCESS",
        lambda refund: b"",
    ],
    ids=["tampered req_info", "not base64", "other merchant", "unknown refund", "entities", "malformed", "empty"],
)
def test_a_bad_notification_is_answered_fail_without_a_500_and_changes_nothing(client, processing_refund, make_body):
    response = post_notification(client, make_body(processing_refund))

    assert response.status_code == 200
    assert b"<return_code><![CDATA[FAIL]]></return_code>" in response.content
    processing_refund.refresh_from_db()
    assert processing_refund.status == RefundStatus.PROCESSING


def test_the_notify_url_takes_post_only(client):
    assert client.get("/wechat/pay/refund-notify/").status_code == 405
