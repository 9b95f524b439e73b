"""Expiry of orders that reached WeChat Pay: query, then close at WeChat, then expire; a paid one never expires."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from catalog.models import Product, Sku
from orders.models import Order, OrderEvent, OrderStatus, Payment, PaymentStatus
from orders.services.expiry import orders_expire_overdue
from tests import real_services
from tests.orders.conftest import authenticated_client
from tests.orders.payments import UNREACHABLE_NOTIFY_URL, aged_past_close_limit, prepaid, undelivered_notification

NOTIFY_PATH = "/wechat/pay/notify/"


@pytest.fixture(autouse=True)
def _notify_url(settings):
    settings.WECHAT_PAY_NOTIFY_URL = UNREACHABLE_NOTIFY_URL


def _overdue(order: Order) -> Order:
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return order


def _sandbox_state(sandbox, out_trade_no: str) -> str:
    [found] = [entry for entry in sandbox.pay_orders() if entry["out_trade_no"] == out_trade_no]
    return found["state"]


def _assert_paid_not_expired(order: Order, sku, quantity: int) -> None:
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    assert not OrderEvent.objects.filter(order=order, to_status=OrderStatus.EXPIRED).exists()
    assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert Payment.objects.get(order=order).status == PaymentStatus.PAID
    assert Product.objects.get(pk=sku.product_id).sales_count == quantity
    assert Sku.objects.get(pk=sku.pk).stock == 10 - quantity  # the stock stays sold


@pytest.mark.django_db
def test_an_unpaid_prepaid_order_is_closed_at_wechat_then_expired(sandbox, api, sku, place_order):
    order = place_order([(sku, 2)])
    payment = aged_past_close_limit(sandbox, prepaid(api, order))
    _overdue(order)

    assert orders_expire_overdue() == 1

    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status) == (OrderStatus.EXPIRED, PaymentStatus.CLOSED)
    assert _sandbox_state(sandbox, payment.out_trade_no) == "CLOSED"
    assert Sku.objects.get(pk=sku.pk).stock == 10
    asked = [entry["path"] for entry in sandbox.received() if entry["path"] in ("/pay/orderquery", "/pay/closeorder")]
    assert asked == ["/pay/orderquery", "/pay/closeorder"]


@pytest.mark.django_db
def test_an_order_paid_at_wechat_whose_notification_never_came_is_marked_paid_not_expired(
    sandbox, api, sku, place_order
):
    order = place_order([(sku, 2)])
    payment = prepaid(api, order)
    sandbox.pay_order(payment.out_trade_no)  # the notification goes nowhere
    _overdue(order)

    assert orders_expire_overdue() == 0

    _assert_paid_not_expired(order, sku, 2)
    assert sandbox.received("/pay/closeorder") == []


@pytest.mark.django_db(transaction=True)
def test_an_order_paid_while_its_close_is_on_the_way_is_marked_paid_from_orderpaid(
    sandbox, customer, address, sku, place_order
):
    order = place_order([(sku, 2)])
    payment = aged_past_close_limit(sandbox, prepaid(authenticated_client(customer), order))
    _overdue(order)
    # The close reaches WeChat a second late; the user pays in between, so WeChat answers ORDERPAID.
    sandbox.add_fault("/pay/closeorder", delay=1.0)
    payer = threading.Timer(0.4, sandbox.pay_order, args=[payment.out_trade_no])
    payer.start()

    expired = orders_expire_overdue()
    payer.join()

    assert expired == 0
    _assert_paid_not_expired(order, sku, 2)
    assert _sandbox_state(sandbox, payment.out_trade_no) == "SUCCESS"
    assert len(sandbox.received("/pay/orderquery")) == 2  # before closing, and after ORDERPAID


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/pay/orderquery", "/pay/closeorder"])
def test_wechat_busy_leaves_the_order_for_the_next_run(sandbox, api, sku, place_order, path):
    order = place_order([(sku, 2)])
    payment = aged_past_close_limit(sandbox, prepaid(api, order))
    _overdue(order)
    sandbox.add_fault(path, errcode="SYSTEMERROR")

    assert orders_expire_overdue() == 0
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT
    assert Payment.objects.get(pk=payment.pk).status == PaymentStatus.PENDING

    assert orders_expire_overdue() == 1
    assert Order.objects.get(pk=order.pk).status == OrderStatus.EXPIRED


@pytest.mark.django_db
def test_a_prepay_younger_than_five_minutes_is_not_closed_and_the_order_waits(sandbox, api, sku, place_order):
    # 关闭订单: "订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟". Forced overdue here; a real order's
    # expiry is never sooner than 5 minutes after its last prepay (the pay API extends it).
    order = place_order([(sku, 2)])
    payment = prepaid(api, order)
    _overdue(order)

    assert orders_expire_overdue() == 0
    held = (Order.objects.get(pk=order.pk).status, Sku.objects.get(pk=sku.pk).stock)
    closes_asked = sandbox.received("/pay/closeorder")
    aged_past_close_limit(sandbox, payment)
    expired_later = orders_expire_overdue()

    assert held == (OrderStatus.PENDING_PAYMENT, 8)
    assert closes_asked == []
    assert expired_later == 1
    assert _sandbox_state(sandbox, payment.out_trade_no) == "CLOSED"
    assert Sku.objects.get(pk=sku.pk).stock == 10


@pytest.mark.django_db
def test_a_user_mid_payment_is_left_to_finish(sandbox, api, sku, place_order):
    order = place_order([(sku, 1)])
    payment = prepaid(api, order)
    sandbox.pay_order(payment.out_trade_no, result="USERPAYING")
    _overdue(order)

    assert orders_expire_overdue() == 0

    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT
    assert sandbox.received("/pay/closeorder") == []


@pytest.mark.django_db
def test_a_prepay_that_never_reached_wechat_is_closed_locally_and_the_order_expires(sandbox, api, sku, place_order):
    order = place_order([(sku, 1)])
    sandbox.add_fault("/pay/unifiedorder", drop=True, times=3)
    assert api.post(f"/api/v1/orders/{order.order_no}/pay").status_code == 503
    _overdue(order)

    assert orders_expire_overdue() == 1

    assert Payment.objects.get(order=order).status == PaymentStatus.CLOSED
    assert Order.objects.get(pk=order.pk).status == OrderStatus.EXPIRED


@pytest.mark.django_db
def test_orders_that_never_reached_wechat_still_expire_in_the_batch(sandbox, api, sku, place_order):
    plain = [_overdue(place_order([(sku, 1)])) for _ in range(3)]
    prepaid_order = place_order([(sku, 1)])
    aged_past_close_limit(sandbox, prepaid(api, prepaid_order))
    _overdue(prepaid_order)

    assert orders_expire_overdue(batch_size=2) == 4

    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.EXPIRED}
    assert len(sandbox.received("/pay/closeorder")) == 1
    assert len(plain) == 3


# --- expiry racing the notification (PostgreSQL) ----------------------------------------------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_expiry_racing_the_notification_never_expires_a_paid_order(sandbox, customer, address, sku, place_order):
    """An order paid at the sandbox at the last second, its deadline passed: expiry and the notification at once."""
    real_services.require(connection.vendor == "postgresql", "PostgreSQL as DATABASE_URL")
    Sku.objects.filter(pk=sku.pk).update(stock=100)
    api = authenticated_client(customer)
    rounds = []
    for _ in range(6):
        order = place_order([(sku, 1)])
        payment = prepaid(api, order)
        sandbox.pay_order(payment.out_trade_no)
        rounds.append((order, undelivered_notification(sandbox, payment.out_trade_no)))
        _overdue(order)

    answers = []
    for _order, body in rounds:
        barrier = threading.Barrier(2)

        def notify(body=body):
            barrier.wait()
            answers.append(Client().generic("POST", NOTIFY_PATH, body, content_type="text/xml").status_code)
            connection.close()

        def expire():
            barrier.wait()
            time.sleep(0.001)
            orders_expire_overdue()
            connection.close()

        threads = [threading.Thread(target=notify), threading.Thread(target=expire)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

    assert answers == [200] * len(rounds)
    for order, _ in rounds:
        order.refresh_from_db()
        assert order.status == OrderStatus.PAID
        assert OrderEvent.objects.filter(order=order, to_status=OrderStatus.PAID).count() == 1
    assert not OrderEvent.objects.filter(to_status=OrderStatus.EXPIRED).exists()
    assert Product.objects.get(pk=sku.product_id).sales_count == len(rounds)
    assert Sku.objects.get(pk=sku.pk).stock == 100 - len(rounds)
