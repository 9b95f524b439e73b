"""WeChat Pay's time rules on the v3 path (a v3 merchant), as test_pay_apis / test_expiry_payment check them on v2.

JSAPI下单 refuses a time_expire less than 5 minutes ahead ("time_expire时间过短，刷卡至少1分钟，其他5分钟"),
and 关闭订单 refuses to close within 5 minutes of the order's creation; the sandbox answers both as
WeChat Pay does, so the product must extend a nearly-due order and wait before closing.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from catalog.models import Sku
from orders.models import Order, OrderStatus, Payment, PaymentStatus
from orders.services.expiry import orders_expire_overdue
from tests.orders.payments import UNREACHABLE_NOTIFY_URL, aged_past_close_limit, prepaid
from tests.orders.payments_v3 import sandbox_v3_shop
from wechat.pay.v3 import BEIJING

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _v3_shop(sandbox, settings):
    sandbox_v3_shop(sandbox, settings)
    settings.WECHAT_PAY_NOTIFY_URL = UNREACHABLE_NOTIFY_URL


def _sandbox_order(sandbox, out_trade_no: str) -> dict:
    [found] = [entry for entry in sandbox.pay_orders() if entry["out_trade_no"] == out_trade_no]
    return found


def _overdue(order: Order) -> Order:
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return order


def _closes_asked(sandbox) -> list[str]:
    return [entry["path"] for entry in sandbox.received() if entry["path"].endswith("/close")]


@pytest.mark.parametrize("seconds_left", [30, 299])
def test_a_v3_prepay_near_the_deadline_extends_the_order_so_wechat_pay_gets_five_minutes(
    sandbox, api, sku, place_order, seconds_left
):
    order = place_order([(sku, 2)])
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() + timedelta(seconds=seconds_left))

    response = api.post(f"/api/v1/orders/{order.order_no}/pay")

    assert response.status_code == 200, response.json()
    assert response.json()["signType"] == "RSA"  # it went through the v3 backend
    order.refresh_from_db()
    payment = Payment.objects.get(order=order)
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.expires_at >= timezone.now() + timedelta(minutes=5)
    assert payment.prepay_requested_at is not None and payment.prepay_expires_at == order.expires_at
    at_wechat = _sandbox_order(sandbox, payment.out_trade_no)
    assert at_wechat["api_version"] == "v3"
    assert at_wechat["time_expire"] == order.expires_at.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")


def test_a_v3_prepay_younger_than_five_minutes_is_not_closed_and_the_order_waits(sandbox, api, sku, place_order):
    order = place_order([(sku, 2)])
    payment = prepaid(api, order)
    _overdue(order)

    assert orders_expire_overdue() == 0
    held = (Order.objects.get(pk=order.pk).status, Sku.objects.get(pk=sku.pk).stock)
    closes_asked = _closes_asked(sandbox)
    aged_past_close_limit(sandbox, payment)
    expired_later = orders_expire_overdue()

    assert held == (OrderStatus.PENDING_PAYMENT, 8)
    assert closes_asked == []
    assert expired_later == 1
    assert _closes_asked(sandbox) == [f"/v3/pay/transactions/out-trade-no/{payment.out_trade_no}/close"]
    assert _sandbox_order(sandbox, payment.out_trade_no)["state"] == "CLOSED"
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.CLOSED
    assert Sku.objects.get(pk=sku.pk).stock == 10


def test_a_v3_close_wechat_pay_refuses_as_too_soon_leaves_the_order_for_the_next_run(sandbox, api, sku, place_order):
    # Our clock says 5 minutes have passed, WeChat Pay's does not yet: its SYSTEM_ERROR is "try again later".
    order = place_order([(sku, 1)])
    payment = prepaid(api, order)
    Payment.objects.filter(pk=payment.pk).update(prepay_requested_at=timezone.now() - timedelta(minutes=6))
    _overdue(order)

    assert orders_expire_overdue() == 0
    assert (Order.objects.get(pk=order.pk).status, Payment.objects.get(pk=payment.pk).status) == (
        OrderStatus.PENDING_PAYMENT,
        PaymentStatus.PENDING,
    )
    assert _sandbox_order(sandbox, payment.out_trade_no)["state"] == "NOTPAY"

    sandbox.advance_clock(5 * 60)
    assert orders_expire_overdue() == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.EXPIRED
    assert _sandbox_order(sandbox, payment.out_trade_no)["state"] == "CLOSED"
