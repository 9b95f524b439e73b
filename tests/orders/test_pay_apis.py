"""POST /api/v1/orders/<order_no>/pay and /check-payment (and its GET alias ?check_payment=1), against the sandbox."""

import threading
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from catalog.models import Product
from orders.models import Order, OrderStatus, Payment, PaymentEvent, PaymentStatus
from orders.services.payments import payment_gateway_for
from orders.services.status import order_cancel
from tests import real_services
from tests.factories import AddressFactory, CustomerFactory
from tests.orders.conftest import authenticated_client
from tests.orders.payments import UNREACHABLE_NOTIFY_URL, aged_past_close_limit, prepaid
from wechat.pay.signing import HMAC_SHA256, MD5, signature_valid
from wechat.pay.v2 import BEIJING

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _notify_url(settings):
    settings.WECHAT_PAY_NOTIFY_URL = UNREACHABLE_NOTIFY_URL


@pytest.fixture
def order(sku, place_order):
    return place_order([(sku, 2)])


def _pay(api, order):
    return api.post(f"/api/v1/orders/{order.order_no}/pay")


def _sandbox_order(sandbox, out_trade_no: str) -> dict:
    [found] = [entry for entry in sandbox.pay_orders() if entry["out_trade_no"] == out_trade_no]
    return found


@pytest.mark.parametrize("sign_type", [MD5, HMAC_SHA256])
def test_pay_answers_what_wx_request_payment_takes_signed_with_the_recorded_sign_type(
    settings, sandbox, api, customer, order, sign_type
):
    settings.WECHAT_PAY_SIGN_TYPE = sign_type

    response = _pay(api, order)

    assert response.status_code == 200
    parameters = response.json()
    assert set(parameters) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert (parameters["appId"], parameters["signType"]) == (settings.WECHAT_MINI_PROGRAM_APPID, sign_type)
    pay_sign = parameters.pop("paySign")
    assert signature_valid({**parameters, "sign": pay_sign}, settings.WECHAT_PAY_API_KEY, sign_type)
    [payment] = Payment.objects.filter(order=order)
    assert payment.out_trade_no == f"{order.order_no}01" and len(payment.out_trade_no) <= 32
    assert (payment.amount_fen, payment.sign_type, payment.status) == (order.total_fen, sign_type, "pending")
    assert parameters["package"] == f"prepay_id={payment.prepay_id}"
    at_wechat = _sandbox_order(sandbox, payment.out_trade_no)
    assert at_wechat["prepay_id"] == payment.prepay_id
    assert (at_wechat["total_fee"], at_wechat["openid"], at_wechat["sign_type"]) == (
        order.total_fen,
        customer.openid,
        sign_type,
    )
    assert at_wechat["notify_url"] == UNREACHABLE_NOTIFY_URL
    assert at_wechat["time_expire"] == order.expires_at.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")
    assert payment.prepay_expires_at == order.expires_at  # 30 minutes: before the prepay's 2 hours end


def test_asking_again_while_the_prepay_is_valid_returns_the_same_prepay_freshly_signed(sandbox, api, order):
    first = _pay(api, order).json()
    second = _pay(api, order).json()

    assert second["package"] == first["package"]
    assert second["nonceStr"] != first["nonceStr"]
    assert Payment.objects.filter(order=order).count() == 1
    assert len(sandbox.received("/pay/unifiedorder")) == 1


def test_a_lapsed_prepay_is_renewed_for_the_same_attempt(sandbox, api, order):
    payment = prepaid(api, order)
    Payment.objects.filter(pk=payment.pk).update(prepay_expires_at=timezone.now() - timedelta(seconds=1))

    response = _pay(api, order)

    assert response.status_code == 200
    assert Payment.objects.filter(order=order).count() == 1  # WeChat answers the same out_trade_no again
    assert len(sandbox.received("/pay/unifiedorder")) == 2


def test_another_customers_order_is_not_found(sandbox, order):
    stranger = authenticated_client(CustomerFactory())

    response = _pay(stranger, order)

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Payment.objects.exists()


@pytest.mark.parametrize("status", [OrderStatus.PAID, OrderStatus.CANCELLED, OrderStatus.EXPIRED])
def test_a_paid_cancelled_or_expired_order_is_not_payable(sandbox, api, order, status):
    Order.objects.filter(pk=order.pk).update(status=status)

    response = _pay(api, order)

    assert response.status_code == 409
    assert response.json()["code"] == "order_not_payable"
    assert not Payment.objects.exists()
    assert sandbox.received("/pay/unifiedorder") == []


def test_a_cancelled_order_is_not_payable_after_it_was_prepaid(sandbox, api, order):
    prepaid(api, order)
    order_cancel(order=order, actor="customer")

    response = _pay(api, order)

    assert (response.status_code, response.json()["code"]) == (409, "order_not_payable")


@pytest.mark.parametrize("seconds_left", [-1, 0])
def test_an_order_past_its_deadline_gets_no_prepay(sandbox, api, order, seconds_left):
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() + timedelta(seconds=seconds_left))

    response = _pay(api, order)

    assert (response.status_code, response.json()["code"]) == (409, "order_not_payable")
    assert sandbox.received("/pay/unifiedorder") == []


@pytest.mark.parametrize("seconds_left", [30, 299])
def test_a_prepay_near_the_deadline_extends_the_order_so_wechat_gets_five_minutes(
    sandbox, api, order, sku, seconds_left
):
    # 统一下单 time_expire: "time_expire时间过短，刷卡至少1分钟，其他5分钟"; the sandbox answers so, as WeChat does.
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() + timedelta(seconds=seconds_left))
    stock_before = type(sku).objects.get(pk=sku.pk).stock

    response = _pay(api, order)

    assert response.status_code == 200, response.json()
    order.refresh_from_db()
    payment = Payment.objects.get(order=order)
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.expires_at >= timezone.now() + timedelta(minutes=5)
    assert payment.prepay_requested_at is not None and payment.prepay_expires_at == order.expires_at
    at_wechat = _sandbox_order(sandbox, payment.out_trade_no)
    assert at_wechat["time_expire"] == order.expires_at.astimezone(BEIJING).strftime("%Y%m%d%H%M%S")
    assert type(sku).objects.get(pk=sku.pk).stock == stock_before  # still held for the order


def test_a_lapsed_attempt_near_the_deadline_is_replaced_not_repeated_with_another_time_expire(sandbox, api, order):
    # The same out_trade_no with another time_expire is "201 商户订单号重复" at WeChat: a new attempt instead.
    first = prepaid(api, order)
    Payment.objects.filter(pk=first.pk).update(prepay_expires_at=timezone.now() - timedelta(seconds=1))
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() + timedelta(seconds=40))

    response = _pay(api, order)

    assert response.status_code == 200, response.json()
    second = Payment.objects.get(order=order, prepay_id=response.json()["package"].removeprefix("prepay_id="))
    assert second.out_trade_no != first.out_trade_no
    assert [entry["out_trade_no"] for entry in sandbox.pay_orders()] == [first.out_trade_no, second.out_trade_no]


def test_wechat_busy_is_a_503_and_the_next_request_continues_the_same_attempt(sandbox, api, order):
    sandbox.add_fault("/pay/unifiedorder", errcode="SYSTEMERROR", times=3)  # the first try and both retries

    refused = _pay(api, order)
    retried = _pay(api, order)

    assert (refused.status_code, refused.json()["code"]) == (503, "wechat_unavailable")
    assert retried.status_code == 200
    [payment] = Payment.objects.filter(order=order)
    assert retried.json()["package"] == f"prepay_id={payment.prepay_id}"


def test_a_permanent_refusal_fails_the_attempt_and_the_next_request_starts_another(sandbox, api, order):
    sandbox.add_fault("/pay/unifiedorder", errcode="INVALID_REQUEST", errmsg="参数错误")

    refused = _pay(api, order)
    retried = _pay(api, order)

    assert (refused.status_code, refused.json()["code"]) == (503, "wechat_unavailable")
    assert retried.status_code == 200
    statuses = dict(Payment.objects.filter(order=order).values_list("out_trade_no", "status"))
    assert statuses == {f"{order.order_no}01": PaymentStatus.FAILED, f"{order.order_no}02": PaymentStatus.PENDING}


def test_orderpaid_from_wechat_is_confirmed_by_orderquery_and_marks_the_order_paid(sandbox, api, order, sku):
    payment = prepaid(api, order)
    sandbox.pay_order(payment.out_trade_no)  # its notification goes nowhere
    # Hours later the prepay has lapsed, so asking again calls WeChat, which says the order is paid.
    Payment.objects.filter(pk=payment.pk).update(prepay_expires_at=timezone.now() - timedelta(seconds=1))

    response = _pay(api, order)

    assert (response.status_code, response.json()["code"]) == (409, "order_not_payable")
    assert response.json()["message"] == "This order is already paid."
    order.refresh_from_db()
    payment.refresh_from_db()
    assert (order.status, payment.status) == (OrderStatus.PAID, PaymentStatus.PAID)
    assert payment.transaction_id == _sandbox_order(sandbox, payment.out_trade_no)["transaction_id"]
    assert Product.objects.get(pk=sku.product_id).sales_count == 2


def test_orderclosed_from_wechat_is_a_409_and_closes_the_attempt(sandbox, api, order):
    payment = aged_past_close_limit(sandbox, prepaid(api, order))
    payment_gateway_for(payment=payment).order_close(payment.out_trade_no)
    Payment.objects.filter(pk=payment.pk).update(prepay_expires_at=timezone.now() - timedelta(seconds=1))

    response = _pay(api, order)

    assert (response.status_code, response.json()["code"]) == (409, "order_not_payable")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CLOSED


# --- ?check_payment=1 ---------------------------------------------------------------------------


def _order_detail(api, order, **query):
    return api.get(f"/api/v1/orders/{order.order_no}", query)


def test_check_payment_confirms_a_payment_whose_notification_has_not_come(sandbox, api, order, sku):
    payment = prepaid(api, order)
    sandbox.pay_order(payment.out_trade_no)

    unchecked = _order_detail(api, order)
    checked = _order_detail(api, order, check_payment="1")

    assert unchecked.json()["status"] == "pending_payment"
    assert checked.status_code == 200
    assert checked.json()["status"] == "paid"
    assert checked.json()["timeline"][-1]["to"] == "paid"
    payment.refresh_from_db()
    assert payment.transaction_id == _sandbox_order(sandbox, payment.out_trade_no)["transaction_id"]
    assert Product.objects.get(pk=sku.product_id).sales_count == 2
    assert len(sandbox.received("/pay/orderquery")) == 1


def test_check_payment_of_an_unpaid_order_leaves_it_pending(sandbox, api, order):
    prepaid(api, order)

    response = _order_detail(api, order, check_payment="1")

    assert response.json()["status"] == "pending_payment"
    assert len(sandbox.received("/pay/orderquery")) == 1


def test_check_payment_with_wechat_busy_answers_the_order_as_it_is(sandbox, api, order):
    prepaid(api, order)
    sandbox.add_fault("/pay/orderquery", errcode="SYSTEMERROR")

    response = _order_detail(api, order, check_payment="1")

    assert (response.status_code, response.json()["status"]) == (200, "pending_payment")


def test_check_payment_asks_nothing_of_an_order_without_a_prepay_or_already_paid(sandbox, api, order, place_order, sku):
    _order_detail(api, order, check_payment="1")
    paid = place_order([(sku, 1)])
    Order.objects.filter(pk=paid.pk).update(status=OrderStatus.PAID)
    _order_detail(api, paid, check_payment="1")

    assert sandbox.received("/pay/orderquery") == []


def test_check_payment_must_be_a_boolean(api, order):
    response = _order_detail(api, order, check_payment="perhaps")

    assert response.status_code == 400
    assert "check_payment" in response.json()["fields"]


# --- POST check-payment --------------------------------------------------------------------------


def _check_payment(api, order):
    return api.post(f"/api/v1/orders/{order.order_no}/check-payment")


def test_check_payment_post_finds_the_order_paid_at_wechat(sandbox, api, order, sku):
    payment = prepaid(api, order)
    sandbox.pay_order(payment.out_trade_no)

    response = _check_payment(api, order)

    assert response.status_code == 200
    assert response.json()["status"] == "paid"
    assert response.json()["timeline"][-1]["to"] == "paid"
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID
    payment.refresh_from_db()
    assert payment.transaction_id == _sandbox_order(sandbox, payment.out_trade_no)["transaction_id"]
    assert Product.objects.get(pk=sku.product_id).sales_count == 2
    assert len(sandbox.received("/pay/orderquery")) == 1


def test_check_payment_post_of_an_unpaid_order_leaves_it_pending(sandbox, api, order):
    prepaid(api, order)

    response = _check_payment(api, order)

    assert (response.status_code, response.json()["status"]) == (200, "pending_payment")
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PENDING_PAYMENT
    assert len(sandbox.received("/pay/orderquery")) == 1


def test_check_payment_post_of_another_customers_order_is_404_and_asks_nothing(sandbox, api, sku, place_order):
    other = CustomerFactory()
    theirs = place_order([(sku, 1)], buyer=other, to_address=AddressFactory(customer=other))
    sandbox.pay_order(prepaid(authenticated_client(other), theirs).out_trade_no)

    response = _check_payment(api, theirs)

    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "fields"}
    assert Order.objects.get(pk=theirs.pk).status == OrderStatus.PENDING_PAYMENT
    assert sandbox.received("/pay/orderquery") == []


def test_check_payment_post_of_an_unknown_order_is_404(api):
    response = api.post("/api/v1/orders/202611231500009999999999/check-payment")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_check_payment_post_answers_as_the_get_alias_and_the_order_detail(sandbox, api, order):
    payment = prepaid(api, order)
    sandbox.pay_order(payment.out_trade_no)

    posted = _check_payment(api, order)
    alias = _order_detail(api, order, check_payment="1")
    detail = _order_detail(api, order)

    assert posted.json() == alias.json() == detail.json()
    assert posted.json()["status"] == "paid"


def test_check_payment_post_with_wechat_busy_answers_the_order_as_it_is(sandbox, api, order):
    prepaid(api, order)
    sandbox.add_fault("/pay/orderquery", errcode="SYSTEMERROR")

    response = _check_payment(api, order)

    assert (response.status_code, response.json()["status"]) == (200, "pending_payment")


def test_check_payment_post_is_not_a_get(api, order):
    response = api.get(f"/api/v1/orders/{order.order_no}/check-payment")

    assert (response.status_code, response.json()["code"]) == (405, "method_not_allowed")


# --- concurrency (PostgreSQL) ----------------------------------------------------------------


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_pay_requests_for_one_order_make_one_prepay(settings, sandbox, sku, place_order, customer):
    real_services.require(connection.vendor == "postgresql", "PostgreSQL as DATABASE_URL")
    order = place_order([(sku, 1)])
    clients = [authenticated_client(customer) for _ in range(10)]
    barrier = threading.Barrier(len(clients))
    answers: list = [None] * len(clients)

    def pay(index: int) -> None:
        try:
            barrier.wait()
            answers[index] = _pay(clients[index], order)
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=(index,)) for index in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert [answer.status_code for answer in answers] == [200] * 10
    assert len({answer.json()["package"] for answer in answers}) == 1
    [payment] = Payment.objects.filter(order=order)
    assert [entry["out_trade_no"] for entry in sandbox.pay_orders()] == [payment.out_trade_no]


def test_a_clock_left_a_day_ahead_refuses_payments_and_the_readme_walkthrough_resets_it(
    sandbox, api, order, place_order, sku
):
    # The README's reconciliation walkthrough moves the sandbox clock to 10:05 the next morning.
    sandbox.advance_clock(86400)
    refused = _pay(api, order)
    sandbox.advance_clock(-3600)  # back, but still ahead
    still_refused = _pay(api, place_order([(sku, 1)]))

    readme = (django_settings.BASE_DIR / "README.md").read_text()
    walkthrough = readme[readme.index("WeChat's bill of a day is ready") :]
    walkthrough = walkthrough[: walkthrough.index("## ")]
    assert "curl -s -X DELETE localhost:8900/sandbox/clock" in walkthrough
    sandbox.reset_clock()  # what the walkthrough's last command does
    paid_after = _pay(api, place_order([(sku, 1)]))

    assert (refused.status_code, refused.json()["code"]) == (503, "wechat_unavailable")
    refusal = PaymentEvent.objects.get(payment__order=order, to_status=PaymentStatus.FAILED).reason
    assert "time_expire时间过短，刷卡至少1分钟，其他5分钟" in refusal
    assert still_refused.status_code == 503
    assert paid_after.status_code == 200, paid_after.json()
