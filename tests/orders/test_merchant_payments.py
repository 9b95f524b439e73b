"""An order is paid through the merchant of the Mini Program its customer logged in through, end to end.

A second Mini Program and merchant are registered at the sandbox (which checks every request's
signature with that merchant's key) and as rows; the settings' shop stays beside them.
"""

from xml.etree import ElementTree

import pytest
from django.conf import settings

from orders.models import Order, OrderStatus, Payment, RefundStatus
from orders.services.refunds import refund_request, refund_submit
from tests.factories import AddressFactory, CustomerFactory
from tests.orders.conftest import authenticated_client
from tests.orders.payments import UNREACHABLE_NOTIFY_URL, prepaid, undelivered_notification
from wechat.models import Merchant, MiniProgram
from wechat.pay.signing import sign, signature_valid
from wechat.pay.v2 import build_xml, parse_xml

pytestmark = pytest.mark.django_db
SECOND_APPID = "wx00000000000000c3"
SECOND_MCH_ID = "1900000333"
SECOND_API_KEY = "second0merchant0api0key000000000"
NOTIFY_PATH = "/wechat/pay/notify/"


@pytest.fixture
def second_mini_program(sandbox, sandbox_server):
    sandbox.register_app(SECOND_APPID, "second-secret", "mini_program")
    sandbox.register_merchant(mch_id=SECOND_MCH_ID, api_key=SECOND_API_KEY, appid=SECOND_APPID)
    certificate = sandbox_server.tls.merchant_certificate(SECOND_MCH_ID)
    merchant = Merchant.objects.create(
        name="Second shop",
        mch_id=SECOND_MCH_ID,
        api_version=Merchant.ApiVersion.V2,
        api_key=SECOND_API_KEY,
        sign_type=Merchant.SignType.HMAC_SHA256,
        certificate_path=certificate.cert_path,
        certificate_key_path=certificate.key_path,
    )
    yield MiniProgram.objects.create(name="Second", appid=SECOND_APPID, app_secret="second-secret", merchant=merchant)
    sandbox.remove_app(SECOND_APPID)


@pytest.fixture
def second_shops_order(settings, second_mini_program, sku, place_order) -> Order:
    settings.WECHAT_PAY_NOTIFY_URL = UNREACHABLE_NOTIFY_URL
    buyer = CustomerFactory(mini_program=second_mini_program)
    return place_order([(sku, 1)], buyer=buyer, to_address=AddressFactory(customer=buyer, is_default=True))


def _return_code(response) -> str:
    return ElementTree.fromstring(response.content).findtext("return_code")


def test_the_prepay_is_made_through_the_customers_mini_program_and_its_merchant(sandbox, second_shops_order):
    response = authenticated_client(second_shops_order.customer).post(
        f"/api/v1/orders/{second_shops_order.order_no}/pay"
    )

    assert response.status_code == 200, response.content
    parameters = response.json()
    assert (parameters["appId"], parameters["signType"]) == (SECOND_APPID, "HMAC-SHA256")
    pay_sign = parameters.pop("paySign")
    assert signature_valid({**parameters, "sign": pay_sign}, SECOND_API_KEY, "HMAC-SHA256")
    [payment] = Payment.objects.filter(order=second_shops_order)
    assert (payment.appid, payment.mch_id, payment.sign_type) == (SECOND_APPID, SECOND_MCH_ID, "HMAC-SHA256")
    [unified_order] = sandbox.received("/pay/unifiedorder")
    sent = parse_xml(unified_order["body"].encode())
    assert (sent["appid"], sent["mch_id"]) == (SECOND_APPID, SECOND_MCH_ID)


def test_its_notification_is_verified_with_that_merchants_key_and_pays_the_order(client, sandbox, second_shops_order):
    payment = prepaid(authenticated_client(second_shops_order.customer), second_shops_order)
    sandbox.pay_order(payment.out_trade_no, mch_id=SECOND_MCH_ID)
    body = undelivered_notification(sandbox, payment.out_trade_no)  # signed by the sandbox with the second key

    response = client.generic("POST", NOTIFY_PATH, body, content_type="text/xml")

    assert _return_code(response) == "SUCCESS"
    second_shops_order.refresh_from_db()
    assert second_shops_order.status == OrderStatus.PAID


def test_a_notification_from_the_settings_merchant_cannot_pay_an_order_of_another_merchant(
    client, sandbox, second_shops_order
):
    payment = prepaid(authenticated_client(second_shops_order.customer), second_shops_order)
    fields = parse_xml(sandbox_paid_notification(sandbox, payment))
    # Genuinely signed by the settings' merchant, naming it, about the second merchant's payment.
    fields.update(appid=settings.WECHAT_MINI_PROGRAM_APPID, mch_id=settings.WECHAT_PAY_MCH_ID)
    fields.pop("sign")
    fields["sign"] = sign(fields, settings.WECHAT_PAY_API_KEY, "HMAC-SHA256")

    response = client.generic("POST", NOTIFY_PATH, build_xml(fields), content_type="text/xml")

    assert _return_code(response) == "FAIL"
    payment.refresh_from_db()
    second_shops_order.refresh_from_db()
    assert (payment.status, second_shops_order.status) == ("pending", OrderStatus.PENDING_PAYMENT)


def test_a_notification_naming_a_merchant_we_do_not_have_is_refused(client, sandbox, second_shops_order):
    payment = prepaid(authenticated_client(second_shops_order.customer), second_shops_order)
    fields = parse_xml(sandbox_paid_notification(sandbox, payment))
    fields.update(mch_id="1900000999")
    fields.pop("sign")
    fields["sign"] = sign(fields, SECOND_API_KEY, "HMAC-SHA256")

    response = client.generic("POST", NOTIFY_PATH, build_xml(fields), content_type="text/xml")

    assert _return_code(response) == "FAIL"
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_its_refund_goes_to_that_merchant_with_that_merchants_certificate(client, sandbox, second_shops_order):
    payment = prepaid(authenticated_client(second_shops_order.customer), second_shops_order)
    sandbox.pay_order(payment.out_trade_no, mch_id=SECOND_MCH_ID)
    body = undelivered_notification(sandbox, payment.out_trade_no)
    assert _return_code(client.generic("POST", NOTIFY_PATH, body, content_type="text/xml")) == "SUCCESS"

    refund = refund_request(payment_id=payment.pk, amount_fen=100, reason="chipped", staff_user=None)
    refund_submit(refund_id=refund.pk)

    refund.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSING and refund.refund_id
    [call] = sandbox.received("/secapi/pay/refund")
    assert parse_xml(call["body"].encode())["mch_id"] == SECOND_MCH_ID
    assert [entry["out_refund_no"] for entry in sandbox.pay_refunds()] == [refund.out_refund_no]


def sandbox_paid_notification(sandbox, payment: Payment) -> bytes:
    sandbox.pay_order(payment.out_trade_no, mch_id=SECOND_MCH_ID)
    return undelivered_notification(sandbox, payment.out_trade_no)
