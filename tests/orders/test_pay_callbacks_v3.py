"""POST /wechat/pay/v3/notify/ and /v3/refund-notify/: WeChat Pay APIv3's notifications, verified, opened, applied once.

The test signs as WeChat Pay (its key; the merchant holds the public key and its id) and encrypts
the resource with the merchant's APIv3 key (tests/orders/payments_v3.py). Refusals change nothing
and answer a 4xx with {code, message}, so WeChat Pay sends the notification again.
"""

import base64
import json
import threading
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

from catalog.models import Product
from orders.models import NotificationOutcome, Order, OrderEvent, OrderStatus, Payment, PaymentNotification, Refund
from orders.services.refunds import refund_request
from tests import real_services
from tests.orders.conftest import authenticated_client
from tests.orders.payments import prepaid, wait_until
from tests.orders.payments_v3 import WeChatPayV3, other_key, sandbox_v3_shop, v3_merchant_make_default
from tests.orders.refund_helpers import tasks_run_eagerly  # noqa: F401 - a fixture

NOTIFY_PATH = "/wechat/pay/v3/notify/"
REFUND_NOTIFY_PATH = "/wechat/pay/v3/refund-notify/"


def _post(client, path: str, body: bytes, headers: dict[str, str]):
    return client.generic("POST", path, body, content_type="application/json", headers=headers)


def _unchanged(order: Order, payment: Payment, sku) -> None:
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status, payment.transaction_id) == ("pending_payment", "pending", None)
    assert Product.objects.get(pk=sku.product_id).sales_count == 0


def _refused(response, status: int) -> None:
    assert response.status_code == status, response.content
    assert response.json()["code"] == "FAIL" and response.json()["message"]


@pytest.fixture
def wechatpay():
    return v3_merchant_make_default()


@pytest.fixture
def order(sku, place_order):
    return place_order([(sku, 2)])


@pytest.fixture
def payment(wechatpay, order):
    """A v3 payment awaiting WeChat Pay, as prepay leaves it (made through the settings' Mini Program's v3 merchant)."""
    from wechat.merchants import mini_program_default

    return Payment.objects.create(
        order=order,
        out_trade_no=f"{order.order_no}01",
        amount_fen=order.total_fen,
        sign_type="RSA",
        appid=mini_program_default().appid,
        mch_id=wechatpay.merchant.mch_id,
        prepay_id="wx2026112315030000000000000000",
    )


# --- accepted, once -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_v3_notification_pays_its_order_once_and_a_repeat_changes_nothing(client, wechatpay, payment, order, sku):
    body, headers = wechatpay.notification(wechatpay.transaction(payment))

    first = _post(client, NOTIFY_PATH, body, headers)
    again = _post(client, NOTIFY_PATH, body, wechatpay.headers(body))  # WeChat's resend, signed anew

    assert (first.status_code, first.content, again.status_code) == (204, b"", 204)
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status, payment.transaction_id) == ("paid", "paid", "4200002026112312345678901234")
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert Product.objects.get(pk=sku.product_id).sales_count == 2
    stored = list(PaymentNotification.objects.order_by("id"))
    assert [notice.outcome for notice in stored] == ["applied", "duplicate"]
    # Staff read the resource decrypted, not the ciphertext.
    assert json.loads(stored[0].raw_body)["resource"]["out_trade_no"] == payment.out_trade_no


# --- refused: nothing changes, WeChat Pay sends it again -------------------------------------------


@pytest.mark.django_db
def test_one_byte_of_ciphertext_changed_is_refused_and_changes_nothing(client, wechatpay, payment, order, sku):
    body, _ = wechatpay.notification(wechatpay.transaction(payment))
    envelope = json.loads(body)
    ciphertext = bytearray(base64.b64decode(envelope["resource"]["ciphertext"]))
    ciphertext[10] ^= 0x01
    envelope["resource"]["ciphertext"] = base64.b64encode(bytes(ciphertext)).decode()
    tampered = json.dumps(envelope, ensure_ascii=False).encode()

    # Signed anew by WeChat Pay's key, so only the decryption can catch it: AES-GCM's tag does.
    response = _post(client, NOTIFY_PATH, tampered, wechatpay.headers(tampered))

    _refused(response, 400)
    _unchanged(order, payment, sku)
    assert not PaymentNotification.objects.exists()


@pytest.mark.django_db
def test_one_character_of_the_signature_changed_is_refused_and_changes_nothing(client, wechatpay, payment, order, sku):
    body, headers = wechatpay.notification(wechatpay.transaction(payment))
    signature = headers["Wechatpay-Signature"]
    headers["Wechatpay-Signature"] = ("A" if signature[0] != "A" else "B") + signature[1:]

    response = _post(client, NOTIFY_PATH, body, headers)

    _refused(response, 401)
    _unchanged(order, payment, sku)
    assert not PaymentNotification.objects.exists()


@pytest.mark.django_db
def test_one_character_of_the_body_changed_after_signing_is_refused(client, wechatpay, payment, order, sku):
    body, headers = wechatpay.notification(wechatpay.transaction(payment))
    tampered = body.replace(b'"summary": "', b'"summary": "!', 1)

    response = _post(client, NOTIFY_PATH, tampered, headers)

    _refused(response, 401)
    _unchanged(order, payment, sku)


@pytest.mark.django_db
def test_a_notification_signed_six_minutes_ago_is_refused_as_a_replay(client, wechatpay, payment, order, sku):
    body, headers = wechatpay.notification(wechatpay.transaction(payment), timestamp=int(time.time()) - 6 * 60)

    response = _post(client, NOTIFY_PATH, body, headers)

    _refused(response, 401)
    _unchanged(order, payment, sku)
    assert not PaymentNotification.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "serial", ["PUB_KEY_ID_0119999999999999999999999999", "' OR 1=1 --", ""], ids=["unknown", "not a serial", "none"]
)
def test_an_unknown_serial_is_refused(client, wechatpay, payment, order, sku, serial):
    body, headers = wechatpay.notification(wechatpay.transaction(payment))
    headers["Wechatpay-Serial"] = serial

    response = _post(client, NOTIFY_PATH, body, headers)

    _refused(response, 401)
    _unchanged(order, payment, sku)


@pytest.mark.django_db
def test_a_notification_signed_with_another_key_under_our_serial_is_refused(client, wechatpay, payment, order, sku):
    body, headers = wechatpay.notification(wechatpay.transaction(payment), signing_key=other_key())

    response = _post(client, NOTIFY_PATH, body, headers)

    _refused(response, 401)
    _unchanged(order, payment, sku)


@pytest.mark.django_db
def test_a_resource_encrypted_with_another_apiv3_key_is_refused(client, wechatpay, payment, order, sku):
    from dataclasses import replace

    forger = replace(wechatpay, apiv3_key="another0apiv3key0000000000000000")
    body, headers = forger.notification(forger.transaction(payment))

    response = _post(client, NOTIFY_PATH, body, headers)

    _refused(response, 400)
    _unchanged(order, payment, sku)


@pytest.mark.django_db
def test_an_amount_other_than_ours_is_stored_flagged_never_paid_and_sent_again(client, wechatpay, payment, order, sku):
    body, headers = wechatpay.notification(wechatpay.transaction(payment, amount={"total": 1, "payer_total": 1}))

    response = _post(client, NOTIFY_PATH, body, headers)

    _refused(response, 409)  # as v2 answers FAIL: staff see every copy WeChat Pay sends
    _unchanged(order, payment, sku)
    [stored] = PaymentNotification.objects.all()
    assert (stored.outcome, stored.total_fee) == (NotificationOutcome.AMOUNT_MISMATCH, 1)


@pytest.mark.django_db
@pytest.mark.parametrize("currency", ["USD", "HKD"])
def test_a_currency_other_than_ours_is_stored_flagged_and_never_paid(client, wechatpay, payment, order, sku, currency):
    # 支付成功回调通知 amount.currency: the same number of another currency's units is another amount.
    resource = wechatpay.transaction(payment, amount={"currency": currency, "payer_currency": currency})
    body, headers = wechatpay.notification(resource)

    response = _post(client, NOTIFY_PATH, body, headers)

    _refused(response, 409)  # verified, so stored for staff; WeChat Pay sends it again
    _unchanged(order, payment, sku)
    [stored] = PaymentNotification.objects.all()
    assert (stored.outcome, stored.total_fee) == (NotificationOutcome.AMOUNT_MISMATCH, payment.amount_fen)
    assert currency in stored.raw_body


@pytest.mark.django_db
def test_a_notification_without_a_currency_is_cny_and_pays(client, wechatpay, payment, order):
    # 支付成功回调通知 amount.currency is 选填, and a 境内商户号 is paid in CNY only.
    resource = wechatpay.transaction(payment)
    del resource["amount"]["currency"], resource["amount"]["payer_currency"]
    body, headers = wechatpay.notification(resource)

    response = _post(client, NOTIFY_PATH, body, headers)

    assert response.status_code == 204, response.content
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


@pytest.mark.django_db
@pytest.mark.parametrize(
    "changes",
    [
        {"appid": "wx0000000000000bad"},
        {"mchid": "1900000109"},
        {"out_trade_no": "2026112300000000000000099"},
        {"amount": {"total": "3990"}},
    ],
    ids=["wrong appid", "wrong mchid", "unknown order", "amount not an integer"],
)
def test_notifications_we_cannot_trust_or_place_are_refused_and_not_stored(
    client, wechatpay, payment, order, sku, changes
):
    body, headers = wechatpay.notification(wechatpay.transaction(payment, **changes))

    response = _post(client, NOTIFY_PATH, body, headers)

    assert response.status_code in (400, 409), response.content
    assert response.json()["code"] == "FAIL"
    _unchanged(order, payment, sku)
    assert not PaymentNotification.objects.exists()


@pytest.mark.django_db
def test_a_v2_payment_is_not_settled_by_a_v3_notification(client, wechatpay, payment, order, sku):
    Payment.objects.filter(pk=payment.pk).update(sign_type="MD5")  # made while the merchant was v2

    body, headers = wechatpay.notification(wechatpay.transaction(payment))
    response = _post(client, NOTIFY_PATH, body, headers)

    _refused(response, 409)
    _unchanged(order, payment, sku)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"resource": {"ciphertext": 1}}', b'{"event_type": "TRANSACTION.SUCCESS"}'],
    ids=["not json", "not an object", "resource of the wrong shape", "no resource"],
)
def test_bodies_that_are_not_v3_notifications_are_a_400(client, wechatpay, payment, order, sku, body):
    response = _post(client, NOTIFY_PATH, body, wechatpay.headers(body))

    _refused(response, 400)
    _unchanged(order, payment, sku)


@pytest.mark.django_db
def test_a_refund_notification_at_the_payment_endpoint_is_refused(client, wechatpay, payment, order, sku):
    body, headers = wechatpay.notification(
        wechatpay.transaction(payment), event_type="REFUND.SUCCESS", original_type="refund"
    )

    _refused(_post(client, NOTIFY_PATH, body, headers), 400)
    _unchanged(order, payment, sku)


@pytest.mark.django_db
def test_a_body_too_large_and_a_get_are_refused(client, wechatpay):
    body = b"{" + b" " * (70 * 1024) + b"}"

    _refused(_post(client, NOTIFY_PATH, body, wechatpay.headers(body)), 413)
    assert client.get(NOTIFY_PATH).status_code == 405


# --- refunds ---------------------------------------------------------------------------------------


@pytest.fixture
def paid_payment(client, wechatpay, payment):
    body, headers = wechatpay.notification(wechatpay.transaction(payment))
    assert _post(client, NOTIFY_PATH, body, headers).status_code == 204
    payment.refresh_from_db()
    return payment


@pytest.fixture
def processing_refund(paid_payment, django_user_model):
    staff = django_user_model.objects.create_user(username="ops", is_staff=True)
    refund = refund_request(order_id=paid_payment.order_id, amount_fen=1000, reason="lid cracked", staff_user=staff)
    Refund.objects.filter(pk=refund.pk).update(status="processing", refund_id="50300000002026112300000000001")
    return Refund.objects.select_related("payment").get(pk=refund.pk)


@pytest.mark.django_db
def test_a_v3_refund_notification_settles_the_refund_once(client, wechatpay, processing_refund):
    body, headers = wechatpay.notification(
        wechatpay.refund(processing_refund),
        event_type="REFUND.SUCCESS",
        original_type="refund",
        associated_data="refund",
    )

    first = _post(client, REFUND_NOTIFY_PATH, body, headers)
    again = _post(client, REFUND_NOTIFY_PATH, body, wechatpay.headers(body))

    assert (first.status_code, again.status_code) == (204, 204)
    processing_refund.refresh_from_db()
    assert processing_refund.status == "succeeded"
    assert Order.objects.get(pk=processing_refund.payment.order_id).status == OrderStatus.PARTIALLY_REFUNDED
    assert processing_refund.events.filter(to_status="succeeded").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "status"),
    [
        ({"amount": {"total": 7980, "refund": 999, "payer_total": 7980, "payer_refund": 999}}, 409),
        ({"mchid": "1900000109"}, 400),
        ({"refund_status": "PROCESSING"}, 400),
    ],
    ids=["another amount", "another merchant", "not a final status"],
)
def test_v3_refund_notifications_that_do_not_match_are_refused(client, wechatpay, processing_refund, changes, status):
    body, headers = wechatpay.notification(
        wechatpay.refund(processing_refund, **changes), event_type="REFUND.SUCCESS", original_type="refund"
    )

    _refused(_post(client, REFUND_NOTIFY_PATH, body, headers), status)
    processing_refund.refresh_from_db()
    assert processing_refund.status == "processing"


@pytest.mark.django_db
def test_a_v3_refund_notification_with_a_changed_signature_is_refused(client, wechatpay, processing_refund):
    body, headers = wechatpay.notification(
        wechatpay.refund(processing_refund), event_type="REFUND.SUCCESS", original_type="refund"
    )
    # Another first character, whatever it was (a fresh signature has another nonce: no use comparing).
    signature = headers["Wechatpay-Signature"]
    headers["Wechatpay-Signature"] = ("B" if signature[0] == "A" else "A") + signature[1:]

    _refused(_post(client, REFUND_NOTIFY_PATH, body, headers), 401)
    processing_refund.refresh_from_db()
    assert processing_refund.status == "processing"


# --- 20 copies at once (PostgreSQL, a live server) --------------------------------------------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_copies_of_one_v3_notification_make_one_transition(live_server, wechatpay, payment, sku):
    real_services.require(connection.vendor == "postgresql", "PostgreSQL as DATABASE_URL")
    body, headers = wechatpay.notification(wechatpay.transaction(payment))
    barrier = threading.Barrier(20)
    answers: list = [None] * 20

    def post(index: int) -> None:
        barrier.wait()
        answers[index] = requests.post(live_server.url + NOTIFY_PATH, data=body, headers=headers, timeout=30)

    threads = [threading.Thread(target=post, args=(index,)) for index in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [answer.status_code for answer in answers] == [204] * 20
    assert OrderEvent.objects.filter(order=payment.order, to_status=OrderStatus.PAID).count() == 1
    assert Product.objects.get(pk=sku.product_id).sales_count == 2
    outcomes = sorted(PaymentNotification.objects.values_list("outcome", flat=True))
    assert outcomes == ["applied"] + ["duplicate"] * 19


# --- end to end: the sandbox pays and posts v3's notification, signed and encrypted ------------------


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_pays_a_v3_order_and_its_notification_marks_it_paid_once(
    settings, sandbox, live_server, customer, sku, place_order
):
    sandbox_v3_shop(sandbox, settings, live_server)
    order = place_order([(sku, 2)])
    payment = prepaid(authenticated_client(customer), order)
    assert payment.sign_type == "RSA"

    paid = sandbox.pay_order(payment.out_trade_no)["order"]
    wait_until(lambda: sandbox.outbox("delivered"))
    sandbox.send_pay_notification(payment.out_trade_no)  # WeChat Pay's duplicate
    wait_until(lambda: len(sandbox.outbox("delivered")) == 2)

    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status, payment.transaction_id) == ("paid", "paid", paid["transaction_id"])
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    outcomes = list(PaymentNotification.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == [NotificationOutcome.APPLIED, NotificationOutcome.DUPLICATE]
    deliveries = sandbox.outbox()
    assert all(delivery["url"] == f"{live_server.url}{NOTIFY_PATH}" for delivery in deliveries)
    assert all(delivery["attempts"][-1]["http_status"] == 204 for delivery in deliveries)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("notify", "status"),
    [
        ({"bad_signature": True}, 401),
        ({"fields": {"amount.total": "1"}}, 409),
        ({"fields": {"mchid": "1900000109"}}, 400),
    ],
    ids=["forged signature", "another amount", "another merchant"],
)
def test_what_the_sandbox_sends_wrong_is_refused_and_wechat_pay_sends_it_again(
    settings, sandbox, live_server, customer, sku, place_order, notify, status
):
    sandbox_v3_shop(sandbox, settings, live_server)
    order = place_order([(sku, 1)])
    payment = prepaid(authenticated_client(customer), order)
    sandbox.pay_order(payment.out_trade_no)
    wait_until(lambda: sandbox.outbox("delivered"))

    sandbox.send_pay_notification(payment.out_trade_no, **notify)
    wait_until(lambda: any(delivery["attempts"] for delivery in sandbox.outbox("pending")))

    [refused] = sandbox.outbox("pending")  # to be sent again in 15 s, as WeChat Pay would
    assert (refused["attempts"][0]["outcome"], refused["attempts"][0]["http_status"]) == ("refused", status)
    assert json.loads(refused["attempts"][0]["answer"])["code"] == "FAIL"
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_refused_v3_notification_comes_again_on_wechat_pays_schedule_and_is_then_taken(
    settings, sandbox, live_server, customer, sku, place_order
):
    sandbox_v3_shop(sandbox, settings, live_server)
    order = place_order([(sku, 1)])
    payment = prepaid(authenticated_client(customer), order)
    # The first attempts are refused: the payment looks made through v2 for now.
    Payment.objects.filter(pk=payment.pk).update(sign_type="MD5")
    sandbox.pay_order(payment.out_trade_no)
    wait_until(lambda: any(delivery["attempts"] for delivery in sandbox.outbox("pending")))
    sandbox.advance_clock(10 * 60)  # the retries at 15 s, 30 s, 1 min and 4 min are refused too
    Payment.objects.filter(pk=payment.pk).update(sign_type="RSA")

    sandbox.advance_clock(10 * 60)  # the retry 10 minutes after that is taken

    [delivery] = sandbox.outbox()
    attempts = delivery["attempts"]
    assert (delivery["policy"], delivery["state"]) == ("pay_notification_v3", "delivered")
    assert [attempt["http_status"] for attempt in attempts] == [409] * 5 + [204]
    gaps = [round(later["at"] - earlier["at"]) for earlier, later in zip(attempts, attempts[1:], strict=False)]
    assert gaps == [15, 15, 30, 180, 600]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("tasks_run_eagerly")
def test_the_sandbox_settles_a_v3_refund_with_its_refund_notification(
    settings, sandbox, live_server, customer, sku, place_order, django_user_model
):
    sandbox_v3_shop(sandbox, settings, live_server)
    order = place_order([(sku, 2)])
    payment = prepaid(authenticated_client(customer), order)
    sandbox.pay_order(payment.out_trade_no)
    wait_until(lambda: Order.objects.get(pk=order.pk).status == OrderStatus.PAID)
    staff = django_user_model.objects.create_user(username="ops", is_staff=True)

    refund = refund_request(order_id=order.pk, amount_fen=1000, reason="lid cracked", staff_user=staff)
    wait_until(lambda: Refund.objects.get(pk=refund.pk).status == "processing")
    sandbox.advance_clock(10)  # WeChat Pay's refund goes through, and it says so
    wait_until(lambda: Refund.objects.get(pk=refund.pk).status == "succeeded")

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PARTIALLY_REFUNDED
    [notified] = [delivery for delivery in sandbox.outbox() if "refund" in delivery["description"]]
    assert notified["url"] == f"{live_server.url}{REFUND_NOTIFY_PATH}"
    assert notified["attempts"][-1]["http_status"] == 204


# --- platform certificates (merchants from before WeChat Pay's public keys) -------------------------

PLATFORM_MCH_ID = "1900007773"
CERTIFICATES_PATH = "/v3/certificates"


@pytest.fixture
def platform_shop(settings, sandbox, live_server):
    """The settings' Mini Program paying through a v3 merchant that checks WeChat Pay with platform certificates."""
    from wechat.merchants import mini_program_default
    from wechat.models import Merchant
    from wechat.pay.v3_platform_certificates import certificates_forget

    sandbox.register_merchant(
        mch_id=PLATFORM_MCH_ID,
        api_key="0123456789abcdefghijklmnopqrstuv",
        appid=settings.WECHAT_MINI_PROGRAM_APPID,
        v3_verification="platform_certificate",
    )
    files = sandbox.tls()["merchants"][PLATFORM_MCH_ID]["v3"]["files"]
    issued = json.loads(Path(files["description_path"]).read_text())
    merchant = Merchant.objects.create(
        name="platform certificates",
        mch_id=PLATFORM_MCH_ID,
        api_version=Merchant.ApiVersion.V3,
        apiv3_key=issued["apiv3_key"],
        private_key=Path(files["private_key_path"]).read_text(),
        certificate_serial=issued["certificate_serial"],
        verification=Merchant.Verification.PLATFORM_CERTIFICATE,
    )
    mini_program = mini_program_default()
    mini_program.merchant = merchant
    mini_program.save()
    settings.WECHAT_PAY_NOTIFY_URL = f"{live_server.url}/wechat/pay/notify/"
    certificates_forget(PLATFORM_MCH_ID)
    yield merchant
    certificates_forget(PLATFORM_MCH_ID)
    sandbox.remove_merchant(PLATFORM_MCH_ID)  # merchants outlive the sandbox's reset


@pytest.mark.django_db(transaction=True)
def test_unknown_serials_download_the_platform_certificates_once_not_once_per_notification(
    live_server, sandbox, platform_shop
):
    forger = WeChatPayV3(merchant=platform_shop, wechatpay_key=other_key())
    refused = []
    for number in range(5):
        body, headers = forger.notification({"mchid": PLATFORM_MCH_ID}, serial=f"7A2B{number:036X}")
        refused.append(requests.post(live_server.url + NOTIFY_PATH, data=body, headers=headers, timeout=10))

    assert [response.status_code for response in refused] == [401] * 5
    assert len(sandbox.received(CERTIFICATES_PATH)) == 1


@pytest.mark.django_db(transaction=True)
def test_a_notification_under_a_new_platform_certificate_downloads_it_once_and_is_taken(
    settings, sandbox, live_server, customer, sku, place_order, platform_shop
):
    settings.WECHAT_PAY_V3_CERTIFICATE_REFRESH_SECONDS = 1
    order = place_order([(sku, 1)])
    payment = prepaid(authenticated_client(customer), order)  # its answer verified: the certificates downloaded
    assert len(sandbox.received(CERTIFICATES_PATH)) == 1
    sandbox.rotate_platform_certificate(PLATFORM_MCH_ID)  # WeChat Pay signs with a new one from now on
    time.sleep(1.1)

    sandbox.pay_order(payment.out_trade_no)
    # Until the sandbox has our answer: the order is paid (committed) a moment before it is sent.
    wait_until(lambda: sandbox.outbox("delivered"))

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    assert len(sandbox.received(CERTIFICATES_PATH)) == 2
    [delivery] = sandbox.outbox("delivered")
    assert delivery["attempts"][-1]["http_status"] == 204
