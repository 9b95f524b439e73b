"""The sandbox's shipping service (小程序发货信息管理服务) answers as WeChat documents, errors included."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
from django.conf import settings

from orders.services.placement import order_create
from tests.factories import AddressFactory, CustomerFactory, SkuFactory
from tests.orders.refund_helpers import paid_payment
from tests.wechat_sandbox.calls import TIMEOUT, assert_wechat_error, mini_program_token
from wechat_sandbox.client import SandboxControlError

UPLOAD = "wxa/sec/order/upload_shipping_info"
DELIVERY_LIST = "cgi-bin/express/delivery/open_msg/get_delivery_list"
BEIJING = ZoneInfo("Asia/Shanghai")
pytestmark = [pytest.mark.django_db, pytest.mark.services]


@pytest.fixture
def payment(sandbox):
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, is_default=True)
    order = order_create(
        customer=customer, address_id=address.pk, items=[{"sku_id": SkuFactory(price_fen=3990).pk, "quantity": 1}]
    )
    return paid_payment(sandbox, order)


def stamp(minutes: int = 0) -> str:
    return (datetime.now(BEIJING) + timedelta(minutes=minutes)).isoformat(timespec="milliseconds")


def shipping(payment, *, minutes: int = 0, **changes) -> dict:
    body = {
        "order_key": {"order_number_type": 2, "transaction_id": payment.transaction_id},
        "logistics_type": 1,
        "delivery_mode": 1,
        "shipping_list": [
            {
                "tracking_no": "SF1234567890",
                "express_company": "SF",
                "item_desc": "Ceramic mug*1",
                "contact": {"receiver_contact": "189****1234"},
            }
        ],
        "upload_time": stamp(minutes),
        "payer": {"openid": payment.order.customer.openid},
    }
    return {**body, **changes}


def upload(url: str, body: dict) -> dict:
    return requests.post(
        url + UPLOAD, params={"access_token": mini_program_token(url)}, json=body, timeout=TIMEOUT
    ).json()


def test_the_carrier_list_gives_wechats_delivery_ids_and_chinese_names(url):
    answer = requests.post(
        url + DELIVERY_LIST, params={"access_token": mini_program_token(url)}, json={}, timeout=TIMEOUT
    ).json()

    assert answer["errcode"] == 0 and answer["count"] == len(answer["delivery_list"])
    assert {"delivery_id": "SF", "delivery_name": "顺丰速运"} in answer["delivery_list"]


def test_a_paid_payment_is_shipped_once_and_reshipped_once_more(url, sandbox, payment):
    assert upload(url, shipping(payment)) == {"errcode": 0, "errmsg": "ok"}
    assert upload(url, shipping(payment, minutes=1)) == {"errcode": 0, "errmsg": "ok"}

    assert_wechat_error(upload(url, shipping(payment, minutes=2)), 10060003, "支付单已使用重新发货机会")
    [record] = sandbox.shippings()
    assert (record["uploads"], record["reshipped"]) == (2, True)


def test_an_upload_not_later_than_the_last_is_refused(url, payment):
    upload(url, shipping(payment, minutes=1))

    answer = upload(url, shipping(payment))

    assert answer["errcode"] == 268485216


def test_an_unknown_payment_is_not_found(url, sandbox):
    body = {
        "order_key": {"order_number_type": 1, "mchid": settings.WECHAT_PAY_MCH_ID, "out_trade_no": "nope"},
        "logistics_type": 3,
        "delivery_mode": 1,
        "shipping_list": [{"item_desc": "top-up"}],
        "upload_time": stamp(),
        "payer": {"openid": "o-someone"},
    }

    assert_wechat_error(upload(url, body), 10060001, "支付单不存在")


@pytest.mark.parametrize(
    ("parcel", "hint"),
    [
        ({"express_company": "PIGEON"}, "express_company PIGEON is not a delivery_id"),
        ({"contact": None}, "contact is required for SF: receiver_contact or consignor_contact"),
        ({"contact": {"receiver_contact": "18912341234"}}, "contact must be masked, the last 4 digits unmasked"),
    ],
)
def test_a_bad_carrier_or_a_missing_or_unmasked_contact_is_refused(url, sandbox, payment, parcel, hint):
    body = shipping(payment)
    body["shipping_list"][0] |= parcel

    assert_wechat_error(upload(url, body), 10060014, f"参数错误，根据错误提示填写正确参数, hint: [{hint}]")
    assert sandbox.shippings() == []


@pytest.mark.parametrize(
    ("changes", "errcode"),
    [
        ({"logistics_type": 9}, 10060005),
        ({"delivery_mode": 2, "logistics_type": 3}, 10060006),
        ({"delivery_mode": 2}, 10060007),
        ({"shipping_list": [{"tracking_no": "1", "express_company": "ZTO", "item_desc": ""}]}, 10060008),
        ({"upload_time": "2026-12-05 10:00:00"}, 268485216),
    ],
)
def test_other_documented_refusals(url, payment, changes, errcode):
    assert upload(url, shipping(payment, **changes))["errcode"] == errcode


def test_the_buyer_confirming_receipt_needs_a_fully_shipped_payment(url, sandbox, payment):
    with pytest.raises(SandboxControlError):
        sandbox.confirm_receipt(transaction_id=payment.transaction_id)

    body = shipping(payment, delivery_mode=2, is_all_delivered=False)
    upload(url, body)
    with pytest.raises(SandboxControlError, match="not fully shipped"):
        sandbox.confirm_receipt(transaction_id=payment.transaction_id)
