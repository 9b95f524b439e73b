"""POST /wechat/pay/notify/: WeChat Pay's payment notification, verified, applied once, stored, answered in XML.

End to end, the sandbox pays and posts the notification to a live server on its retry schedule;
refusals are posted with Django's test client, signed as WeChat signs (wechat/pay/signing.py).
"""

import threading
from datetime import datetime
from xml.etree import ElementTree

import pytest
import requests
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connection
from django.urls import reverse

from catalog.models import Product
from orders.models import (
    NotificationOutcome,
    Order,
    OrderEvent,
    OrderStatus,
    Payment,
    PaymentEvent,
    PaymentNotification,
)
from orders.services.status import order_cancel
from tests import real_services
from tests.orders.conftest import authenticated_client
from tests.orders.payments import UNREACHABLE_NOTIFY_URL, notification_body, prepaid, wait_until
from wechat.pay.signing import HMAC_SHA256, MD5, sign
from wechat.pay.v2 import BEIJING, build_xml

NOTIFY_PATH = "/wechat/pay/notify/"
SHARED_SAMPLE_OUT_TRADE_NO = "20261123150001000042"


def _answer(response) -> str:
    return ElementTree.fromstring(response.content).findtext("return_code")


def _post(client, body: bytes):
    return client.generic("POST", NOTIFY_PATH, body, content_type="text/xml")


def _unchanged(order: Order, payment: Payment, sku) -> None:
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status, payment.transaction_id) == ("pending_payment", "pending", None)
    assert Product.objects.get(pk=sku.product_id).sales_count == 0


@pytest.fixture
def order(sku, place_order):
    return place_order([(sku, 2)])


@pytest.fixture
def payment(settings, sandbox, api, order):
    settings.WECHAT_PAY_NOTIFY_URL = UNREACHABLE_NOTIFY_URL
    return prepaid(api, order)


# --- end to end ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sign_type", [MD5, HMAC_SHA256])
def test_the_sandbox_pays_and_its_notification_marks_the_order_paid_once(
    settings, sandbox, live_server, customer, sku, place_order, sign_type
):
    settings.WECHAT_PAY_SIGN_TYPE = sign_type
    settings.WECHAT_PAY_NOTIFY_URL = live_server.url + NOTIFY_PATH
    order = place_order([(sku, 2)])
    payment = prepaid(authenticated_client(customer), order)

    paid = sandbox.pay_order(payment.out_trade_no)["order"]
    wait_until(lambda: sandbox.outbox("delivered"))
    sandbox.send_pay_notification(payment.out_trade_no)  # WeChat's duplicate
    wait_until(lambda: len(sandbox.outbox("delivered")) == 2)

    order.refresh_from_db()
    payment.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert (payment.status, payment.transaction_id, payment.sign_type) == ("paid", paid["transaction_id"], sign_type)
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert Product.objects.get(pk=sku.product_id).sales_count == 2
    outcomes = list(PaymentNotification.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == [NotificationOutcome.APPLIED, NotificationOutcome.DUPLICATE]
    assert all(delivery["attempts"][-1]["outcome"] == "acknowledged" for delivery in sandbox.outbox())


@pytest.mark.django_db(transaction=True)
def test_a_forged_notification_from_the_sandbox_is_answered_fail_and_wechat_resends(
    settings, sandbox, live_server, customer, sku, place_order
):
    settings.WECHAT_PAY_NOTIFY_URL = live_server.url + NOTIFY_PATH
    order = place_order([(sku, 1)])
    payment = prepaid(authenticated_client(customer), order)
    sandbox.pay_order(payment.out_trade_no)
    wait_until(lambda: sandbox.outbox("delivered"))

    sandbox.send_pay_notification(payment.out_trade_no, bad_signature=True)
    wait_until(lambda: any(delivery["attempts"] for delivery in sandbox.outbox("pending")))

    [forged] = sandbox.outbox("pending")  # to be resent in 15 s, as WeChat would
    assert forged["attempts"][0]["outcome"] == "refused"
    assert "FAIL" in forged["attempts"][0]["answer"]
    assert PaymentNotification.objects.count() == 1


# --- the shared samples --------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sample", "sign_type"), [("pay-notify-md5.xml", MD5), ("pay-notify-hmac-sha256.xml", HMAC_SHA256)]
)
def test_the_shared_samples_pay_their_order_and_one_changed_character_is_refused(
    settings, client, wechat_sample, order, sku, sample, sign_type
):
    settings.WECHAT_PAY_API_KEY = "sandboxapikey0000000000000000000"
    Order.objects.filter(pk=order.pk).update(total_fen=3990)
    payment = Payment.objects.create(
        order=order, out_trade_no=SHARED_SAMPLE_OUT_TRADE_NO, amount_fen=3990, sign_type=sign_type, prepay_id="wx1"
    )
    body = wechat_sample(sample)
    tampered = body.replace(b"<bank_type><![CDATA[CMC]]>", b"<bank_type><![CDATA[CMB]]>")
    assert tampered != body

    refused = _post(client, tampered)
    _unchanged(order, payment, sku)
    accepted = _post(client, body)

    assert (refused.status_code, _answer(refused)) == (200, "FAIL")
    assert (accepted.status_code, _answer(accepted)) == (200, "SUCCESS")
    payment.refresh_from_db()
    assert (payment.status, payment.transaction_id) == ("paid", "4200002026112312345678901234")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    [stored] = PaymentNotification.objects.all()
    assert (stored.outcome, stored.total_fee, stored.raw_body) == ("applied", 3990, body.decode())


# --- refusals: answered FAIL, nothing changed -------------------------------------------------------


@pytest.mark.django_db
def test_an_amount_other_than_ours_is_stored_flagged_and_never_paid(client, payment, order, sku):
    response = _post(client, notification_body(payment, total_fee="1", cash_fee="1"))

    assert (response.status_code, _answer(response)) == (200, "FAIL")
    _unchanged(order, payment, sku)
    [stored] = PaymentNotification.objects.all()
    assert (stored.outcome, stored.total_fee) == (NotificationOutcome.AMOUNT_MISMATCH, 1)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fee_type", ["USD", "HKD"])
def test_a_currency_other_than_ours_is_stored_flagged_and_never_paid(client, payment, order, sku, fee_type):
    # The right number of fen, but not of yuan: refused as an amount that is not ours.
    response = _post(client, notification_body(payment, fee_type=fee_type))

    assert (response.status_code, _answer(response)) == (200, "FAIL")
    _unchanged(order, payment, sku)
    [stored] = PaymentNotification.objects.all()
    assert (stored.outcome, stored.total_fee) == (NotificationOutcome.AMOUNT_MISMATCH, payment.amount_fen)
    assert fee_type in stored.raw_body


@pytest.mark.django_db(transaction=True)
def test_a_notification_without_fee_type_is_cny_and_pays(client, payment, order):
    # 支付结果通知: fee_type is optional, "默认人民币：CNY".
    fields = {
        key: value for key, value in _fields(notification_body(payment)).items() if key not in ("sign", "fee_type")
    }
    fields["sign"] = sign(fields, settings.WECHAT_PAY_API_KEY, payment.sign_type)

    response = _post(client, build_xml(fields))

    assert (response.status_code, _answer(response)) == (200, "SUCCESS")
    order.refresh_from_db()
    assert order.status == "paid"


def _fields(body: bytes) -> dict[str, str]:
    return {element.tag: element.text or "" for element in ElementTree.fromstring(body)}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "sign_type"),
    [
        ({"out_trade_no": "2026112300000000000000099"}, None),  # unknown order
        ({"out_trade_no": "2026112300000000000000099 OR 1=1" * 2}, None),  # not an out_trade_no at all
        ({"appid": "wx0000000000000bad"}, None),
        ({"mch_id": "1900000109"}, None),
        ({}, "wrong-key"),  # bad signature
        ({}, "other-sign-type"),  # signed, but not the way this payment was
    ],
    ids=["unknown order", "malformed out_trade_no", "wrong appid", "wrong mch_id", "bad signature", "wrong sign type"],
)
def test_notifications_we_cannot_trust_or_place_are_refused_and_not_stored(
    settings, client, payment, order, sku, changes, sign_type
):
    if sign_type == "wrong-key":
        body = notification_body(payment, **changes).replace(b"<sign>", b"<sign>0", 1)
    elif sign_type == "other-sign-type":
        body = notification_body(payment, sign_type=HMAC_SHA256 if payment.sign_type == MD5 else MD5)
    else:
        body = notification_body(payment, **changes)

    response = _post(client, body)

    assert (response.status_code, _answer(response)) == (200, "FAIL")
    _unchanged(order, payment, sku)
    assert not PaymentNotification.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"<xml><return_code>SUCCESS",
        b'<!DOCTYPE xml [<!ENTITY fee "3990">]><xml><out_trade_no>%s</out_trade_no><total_fee>&fee;</total_fee></xml>',
        b'<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd"><xml><out_trade_no>%s</out_trade_no></xml>',
        b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]><xml><c>&b;</c></xml>',
    ],
    ids=["not xml", "truncated", "internal entity", "external dtd", "entity expansion"],
)
def test_malformed_xml_and_xml_with_entities_are_refused_with_a_400(client, payment, order, sku, body):
    if b"%s" in body:
        body = body % payment.out_trade_no.encode()

    response = _post(client, body)

    assert (response.status_code, _answer(response)) == (400, "FAIL")
    _unchanged(order, payment, sku)
    assert not PaymentNotification.objects.exists()


@pytest.mark.django_db
def test_a_body_too_large_for_a_notification_is_refused(client, payment):
    response = _post(client, b"<xml>" + b" " * (70 * 1024) + b"</xml>")

    assert (response.status_code, _answer(response)) == (413, "FAIL")


@pytest.mark.django_db
@pytest.mark.parametrize("content_length", ["abc", "-1", "1e3"])
def test_a_nonsense_content_length_is_a_400_not_a_500(client, content_length):
    response = client.post(NOTIFY_PATH, b"<xml></xml>", content_type="text/xml", CONTENT_LENGTH=content_length)

    assert response.status_code == 400


@pytest.mark.django_db
def test_only_post_is_answered(client):
    assert client.get(NOTIFY_PATH).status_code == 405


@pytest.mark.django_db
def test_a_failed_payment_result_is_stored_and_acknowledged_but_not_paid(client, payment, order, sku):
    response = _post(client, notification_body(payment, result_code="FAIL", err_code="NOTENOUGH"))

    assert _answer(response) == "SUCCESS"
    _unchanged(order, payment, sku)
    [stored] = PaymentNotification.objects.all()
    assert (stored.outcome, stored.result_code) == (NotificationOutcome.NOT_PAID, "FAIL")


@pytest.mark.django_db
def test_money_for_a_cancelled_order_is_acknowledged_stored_and_flagged(client, payment, order, sku):
    order_cancel(order=order, actor="customer")

    response = _post(client, notification_body(payment))

    assert _answer(response) == "SUCCESS"  # WeChat has nothing more to tell: staff refund
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status) == (OrderStatus.CANCELLED, "pending")
    [stored] = PaymentNotification.objects.all()
    assert stored.outcome == NotificationOutcome.ORDER_NOT_PAYABLE


@pytest.mark.django_db
def test_a_duplicate_after_payment_is_acknowledged_and_changes_nothing(client, payment, order, sku):
    first = _post(client, notification_body(payment))
    second = _post(client, notification_body(payment))

    assert (_answer(first), _answer(second)) == ("SUCCESS", "SUCCESS")
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert Product.objects.get(pk=sku.product_id).sales_count == 2
    outcomes = list(PaymentNotification.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["applied", "duplicate"]


@pytest.mark.django_db
@pytest.mark.parametrize("payment_status", ["pending", "failed"])  # a failed prepay may still have been paid
def test_a_payment_notification_records_both_changes_each_with_its_event(client, payment, order, sku, payment_status):
    Payment.objects.filter(pk=payment.pk).update(status=payment_status)
    PaymentEvent.objects.filter(payment=payment).delete()

    assert _answer(_post(client, notification_body(payment))) == "SUCCESS"

    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status) == (OrderStatus.PAID, "paid")
    assert payment.transaction_id == "4200002026112312345678901234"
    assert payment.paid_at == datetime(2026, 11, 23, 15, 3, 12, tzinfo=BEIJING)  # WeChat's time_end
    assert order.paid_at is not None
    reason = "微信支付结果通知"  # "WeChat Pay payment notification", in the shop's language
    assert list(
        PaymentEvent.objects.filter(payment=payment).values_list("from_status", "to_status", "actor", "reason")
    ) == [(payment_status, "paid", "payment", reason)]
    assert list(
        OrderEvent.objects.filter(order=order, from_status="pending_payment").values_list(
            "to_status", "actor", "reason"
        )
    ) == [("paid", "payment", reason)]
    assert Product.objects.get(pk=sku.product_id).sales_count == 2


@pytest.mark.django_db
def test_a_payment_made_before_merchants_were_rows_is_paid_through_the_settings_merchant(client, payment, order, sku):
    # No appid or mch_id recorded: made through the settings' Mini Program and merchant (PostgreSQL's
    # one-statement path hands these to the ORM's steps, which read the default).
    Payment.objects.filter(pk=payment.pk).update(appid="", mch_id="")

    first = _post(client, notification_body(payment))
    again = _post(client, notification_body(payment))

    assert (_answer(first), _answer(again)) == ("SUCCESS", "SUCCESS")
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert Product.objects.get(pk=sku.product_id).sales_count == 2
    outcomes = list(PaymentNotification.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == ["applied", "duplicate"]


# --- the admin ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_staff_see_payments_and_notifications_on_the_order_and_filter_those_needing_attention(
    client, django_user_model, payment, order, place_order, sku, api
):
    _post(client, notification_body(payment, total_fee="1", cash_fee="1"))
    other = place_order([(sku, 1)])
    other_payment = prepaid(api, other)
    _post(client, notification_body(other_payment))
    operator = django_user_model.objects.create_user(username="ops", is_staff=True)
    operator.groups.add(Group.objects.get(name="Operations"))
    client.force_login(operator)

    order_page = client.get(reverse("admin:orders_order_change", args=[order.pk])).content.decode()
    attention = client.get(reverse("admin:orders_paymentnotification_changelist"), {"attention": "yes"})
    payment_page = client.get(reverse("admin:orders_payment_change", args=[payment.pk]))

    assert payment.out_trade_no in order_page
    assert "amount differs from ours" in order_page
    listed = attention.content.decode()
    assert payment.out_trade_no in listed and other_payment.out_trade_no not in listed
    assert payment_page.status_code == 200
    assert client.post(reverse("admin:orders_payment_change", args=[payment.pk]), {}).status_code == 403


# --- 20 copies at once (PostgreSQL) -------------------------------------------------------------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_copies_of_one_notification_make_one_transition(
    settings, sandbox, live_server, customer, sku, place_order
):
    real_services.require(connection.vendor == "postgresql", "PostgreSQL as DATABASE_URL")
    settings.WECHAT_PAY_NOTIFY_URL = UNREACHABLE_NOTIFY_URL
    order = place_order([(sku, 3)])
    payment = prepaid(authenticated_client(customer), order)
    body = notification_body(payment)
    barrier = threading.Barrier(20)
    answers: list = [None] * 20

    def post(index: int) -> None:
        barrier.wait()
        answers[index] = requests.post(live_server.url + NOTIFY_PATH, data=body, timeout=30)

    threads = [threading.Thread(target=post, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert all(answers), "a copy had no answer within 30 s"
    not_xml = [(answer.status_code, answer.text[:300]) for answer in answers if not answer.text.startswith("<xml>")]
    assert not not_xml, not_xml
    assert [(answer.status_code, _answer(answer)) for answer in answers] == [(200, "SUCCESS")] * 20
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert Product.objects.get(pk=sku.product_id).sales_count == 3
    outcomes = sorted(PaymentNotification.objects.values_list("outcome", flat=True))
    assert outcomes == ["applied"] + ["duplicate"] * 19
