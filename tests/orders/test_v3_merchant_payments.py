"""An order of a Mini Program whose merchant speaks APIv3 is prepaid, confirmed and refunded through the v3 gateway.

The business code is the same as for v2 (`payment_gateway_for` picks the backend by the merchant's
API version); the sandbox checks each v3 request's signature with the merchant's certificate and
signs each answer, which the gateway checks with WeChat Pay's public key.
"""

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import load_pem_x509_certificate

from orders.models import (
    Discrepancy,
    DiscrepancyKind,
    Order,
    OrderStatus,
    Payment,
    ReconciliationTrigger,
    RefundStatus,
)
from orders.services.payments import payment_gateway_for
from orders.services.reconciliation import reconciliation_run
from orders.services.refunds import refund_request, refund_submit
from tests.factories import AddressFactory, CustomerFactory
from tests.orders.conftest import authenticated_client
from tests.orders.payments import UNREACHABLE_NOTIFY_URL, prepaid
from tests.orders.reconciliation_helpers import bill_ready, sandbox_now
from wechat.models import Merchant, MiniProgram
from wechat.pay.v3 import WeChatPayV3

pytestmark = pytest.mark.django_db
V3_APPID = "wx00000000000000d3"
V3_MCH_ID = "1900000444"
V3_API_KEY = "v3shop0merchant0api0key000000000"


@pytest.fixture
def v3_mini_program(sandbox):
    """A Mini Program paying through a v3 merchant, with the keys the sandbox issued it (as the platform would)."""
    sandbox.register_app(V3_APPID, "v3-secret", "mini_program")
    sandbox.register_merchant(mch_id=V3_MCH_ID, api_key=V3_API_KEY, appid=V3_APPID)
    files = sandbox.tls()["merchants"][V3_MCH_ID]["v3"]["files"]
    issued = json.loads(Path(files["description_path"]).read_text())
    merchant = Merchant.objects.create(
        name="v3 shop",
        mch_id=V3_MCH_ID,
        api_version=Merchant.ApiVersion.V3,
        apiv3_key=issued["apiv3_key"],
        private_key=Path(files["private_key_path"]).read_text(),
        certificate_serial=issued["certificate_serial"],
        verification=Merchant.Verification.PUBLIC_KEY,
        wechatpay_public_key=Path(files["wechatpay_public_key_path"]).read_text(),
        wechatpay_public_key_id=issued["wechatpay_public_key_id"],
    )
    yield MiniProgram.objects.create(name="v3", appid=V3_APPID, app_secret="v3-secret", merchant=merchant)
    sandbox.remove_app(V3_APPID)  # its merchant goes with it


@pytest.fixture
def v3_order(settings, v3_mini_program, sku, place_order) -> Order:
    settings.WECHAT_PAY_NOTIFY_URL = UNREACHABLE_NOTIFY_URL
    buyer = CustomerFactory(mini_program=v3_mini_program)
    return place_order([(sku, 1)], buyer=buyer, to_address=AddressFactory(customer=buyer, is_default=True))


def test_the_pay_api_prepays_through_v3_and_signs_request_payment_rsa(sandbox, v3_order):
    response = authenticated_client(v3_order.customer).post(f"/api/v1/orders/{v3_order.order_no}/pay")

    assert response.status_code == 200, response.content
    parameters = response.json()
    assert (parameters["appId"], parameters["signType"]) == (V3_APPID, "RSA")
    certificate_path = sandbox.tls()["merchants"][V3_MCH_ID]["v3"]["files"]["certificate_path"]
    public_key = load_pem_x509_certificate(Path(certificate_path).read_bytes()).public_key()
    message = (
        f"{parameters['appId']}\n{parameters['timeStamp']}\n{parameters['nonceStr']}\n{parameters['package']}\n"
    ).encode()
    public_key.verify(base64.b64decode(parameters["paySign"]), message, padding.PKCS1v15(), hashes.SHA256())
    [call] = sandbox.received("/v3/pay/transactions/jsapi")
    sent = json.loads(call["body"])
    assert (sent["appid"], sent["mchid"], sent["amount"]["total"]) == (V3_APPID, V3_MCH_ID, v3_order.total_fen)
    assert not sandbox.received("/pay/unifiedorder")


def test_a_paid_v3_order_is_confirmed_by_asking_wechat_pay(sandbox, v3_order):
    api = authenticated_client(v3_order.customer)
    payment = prepaid(api, v3_order)
    assert isinstance(payment_gateway_for(payment=payment), WeChatPayV3)
    sandbox.pay_order(payment.out_trade_no, mch_id=V3_MCH_ID)

    response = api.post(f"/api/v1/orders/{v3_order.order_no}/check-payment")

    assert response.status_code == 200, response.content
    v3_order.refresh_from_db()
    payment.refresh_from_db()
    assert v3_order.status == OrderStatus.PAID
    assert payment.transaction_id == sandbox.pay_orders()[-1]["transaction_id"]
    assert sandbox.received(f"/v3/pay/transactions/out-trade-no/{payment.out_trade_no}")


def test_a_v3_refund_goes_to_the_v3_refund_api(sandbox, v3_order):
    api = authenticated_client(v3_order.customer)
    payment = prepaid(api, v3_order)
    sandbox.pay_order(payment.out_trade_no, mch_id=V3_MCH_ID)
    assert api.post(f"/api/v1/orders/{v3_order.order_no}/check-payment").status_code == 200
    payment = Payment.objects.get(pk=payment.pk)

    refund = refund_request(payment_id=payment.pk, amount_fen=100, reason="chipped", staff_user=None)
    refund_submit(refund_id=refund.pk)

    refund.refresh_from_db()
    assert refund.status == RefundStatus.PROCESSING and refund.refund_id
    [call] = sandbox.received("/v3/refund/domestic/refunds")
    sent = json.loads(call["body"])
    assert (sent["out_refund_no"], sent["amount"]["refund"]) == (refund.out_refund_no, 100)
    assert not sandbox.received("/secapi/pay/refund")


def test_a_v3_merchants_day_reconciles_from_its_v3_bill_then_a_tampered_bill_shows_the_difference(sandbox, v3_order):
    api = authenticated_client(v3_order.customer)
    payment = prepaid(api, v3_order)
    sandbox.pay_order(payment.out_trade_no, mch_id=V3_MCH_ID)
    assert api.post(f"/api/v1/orders/{v3_order.order_no}/check-payment").status_code == 200
    day = sandbox_now(sandbox).date()
    bill_ready(sandbox, day)

    run = reconciliation_run(bill_date=day, triggered_by=ReconciliationTrigger.COMMAND, mch_id=V3_MCH_ID)

    assert (run.status, run.api_version, run.mch_id) == ("succeeded", "v3", V3_MCH_ID)
    assert (run.matched_count, run.discrepancy_count) == (1, 0)
    assert sandbox.received("/v3/bill/tradebill") and not sandbox.received("/pay/downloadbill")

    yuan = f"{(v3_order.total_fen - 100) / 100:.2f}"
    sandbox.change_bill(
        day.strftime("%Y%m%d"),
        out_trade_no=payment.out_trade_no,
        fields={"应结订单金额": yuan, "订单金额": yuan},
        mch_id=V3_MCH_ID,
    )
    tampered = reconciliation_run(bill_date=day, triggered_by=ReconciliationTrigger.COMMAND, mch_id=V3_MCH_ID)

    assert (tampered.status, tampered.discrepancy_count) == ("succeeded", 1)
    [discrepancy] = Discrepancy.objects.filter(out_trade_no=payment.out_trade_no)
    assert discrepancy.kind == DiscrepancyKind.AMOUNT_MISMATCH
