"""A paid order shipped in the admin (Chromium) is reported to WeChat once and its buyer, who accepted the
"shipped" template, gets that message once; the buyer confirms receipt over the API; another shipped order,
whose buyer accepted nothing, records why no message went and completes on its own once the configured
days have passed.

Uses the browser fixtures of test_admin_browser.py (Debian's Chromium driven by Playwright) and the template
fixture of tests/subscribe_messages.
"""

import secrets
import time
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from customers.models import CustomerToken
from orders.models import Order, OrderStatus
from orders.services.placement import order_create
from orders.shipment_models import ShippingReport, ShippingReportStatus
from orders.tasks import complete_delivered_orders
from subscribe_messages.models import OrderMilestone, SubscribeMessage, SubscribeMessageOutcome
from tests.e2e import test_admin_browser
from tests.factories import AddressFactory, CustomerFactory, SkuFactory
from tests.orders.refund_helpers import paid_payment, tasks_run_eagerly  # noqa: F401
from tests.subscribe_messages import conftest as subscribe_messages_fixtures

browser = test_admin_browser.browser
staff_member = test_admin_browser.staff_member
screenshot_dir = test_admin_browser.screenshot_dir
_logged_in_page = test_admin_browser._logged_in_page
make_template = subscribe_messages_fixtures.make_template

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups", "tasks_run_eagerly"),
]


def _paid_order(sandbox, nickname: str) -> Order:
    customer = CustomerFactory(nickname=nickname)
    address = AddressFactory(customer=customer, is_default=True, phone="18912341234")
    sku = SkuFactory(stock=5, price_fen=39900, product__title="亚麻床品")
    order = order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])
    paid_payment(sandbox, order)
    return order


def _bearer_token(customer) -> str:
    token = secrets.token_urlsafe(32)
    CustomerToken.objects.create(
        customer=customer, key_digest=CustomerToken.digest(token), expires_at=timezone.now() + timedelta(days=1)
    )
    return token


def _subscriptions_reported(live_server, sandbox, buyer, token: str, template_id: str) -> None:
    """The buyer taps "accept" in wx.requestSubscribeMessage: WeChat learns it, and the Mini Program tells us."""
    sandbox.subscribe(buyer.openid, {template_id: "accept"})
    answer = requests.post(
        f"{live_server.url}/api/v1/subscriptions",
        json={"results": {template_id: "accept"}},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def _messages(sandbox, buyer) -> list[dict]:
    return sandbox.subscribe_messages(buyer.openid)["per_buyer"].get(buyer.openid, [])


def _ship_in_the_admin(page, live_server, order: Order, tracking_number: str) -> None:
    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    page.get_by_role("link", name="Ship this order").first.click()
    # The carrier list is WeChat's (get_delivery_list), by its Chinese names.
    page.get_by_label("Carrier").select_option(label="顺丰速运")
    page.get_by_label("Tracking number").fill(tracking_number)
    page.get_by_role("button", name="Mark as shipped").click()


def test_an_order_shipped_in_the_admin_is_reported_once_then_completed_by_the_buyer_or_by_time(
    browser, live_server, staff_member, screenshot_dir, sandbox, settings, make_template
):
    from playwright.sync_api import expect

    staff_member("Operations", "olivia")
    shipped_template = make_template(OrderMilestone.SHIPPED)  # order number, products, carrier, tracking number
    first, second = _paid_order(sandbox, "王小明"), _paid_order(sandbox, "李雷")
    first_token = _bearer_token(first.customer)
    # Twice, so WeChat would take a second "shipped" message: only our own bookkeeping keeps it to one.
    for _ in range(2):
        _subscriptions_reported(live_server, sandbox, first.customer, first_token, shipped_template.template_id)
    page = _logged_in_page(browser, live_server, "olivia")

    _ship_in_the_admin(page, live_server, first, "SF1234567890123")

    expect(page.locator(".messagelist, #messages, [role=alert]").first).to_contain_text("is shipped")
    expect(page.locator(".wechat-shipping-status")).to_contain_text("WeChat has it")
    expect(page.locator("tr.parcel")).to_contain_text("SF1234567890123")
    page.screenshot(path=screenshot_dir / "operations-order-shipped-to-wechat.png", full_page=True)
    [shipping] = sandbox.shippings()
    [parcel] = shipping["shipping_list"]
    assert (parcel["express_company"], parcel["tracking_no"]) == ("SF", "SF1234567890123")
    assert parcel["contact"] == {"receiver_contact": "189****1234"}
    assert shipping["uploads"] == 1
    [message] = _messages(sandbox, first.customer)
    assert message["template_id"] == shipped_template.template_id
    assert message["data"]["character_string1"] == first.order_no
    assert (message["data"]["thing3"], message["data"]["character_string4"]) == ("顺丰速运", "SF1234567890123")

    # Shipping the same parcel again (a second click on an old tab) tells WeChat nothing new.
    page.goto(f"{live_server.url}/admin/orders/order/{first.pk}/ship/")
    page.get_by_label("Carrier").select_option(label="顺丰速运")
    page.get_by_label("Tracking number").fill("SF1234567890123")
    page.get_by_role("button", name="Mark as shipped").click()
    expect(page.locator(".errorlist, .messagelist, #messages, [role=alert]").first).to_be_visible()
    assert [entry["uploads"] for entry in sandbox.shippings()] == [1]
    assert len(sandbox.received("/wxa/sec/order/upload_shipping_info")) == 1
    assert len(_messages(sandbox, first.customer)) == 1
    assert len(sandbox.received("/cgi-bin/message/subscribe/send")) == 1

    # The buyer confirms receipt from the Mini Program, over HTTP.
    answer = requests.post(
        f"{live_server.url}/api/v1/orders/{first.order_no}/confirm-receipt",
        headers={"Authorization": f"Bearer {first_token}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "completed"
    page.goto(f"{live_server.url}/admin/orders/order/{first.pk}/change/")
    expect(page.locator("div.field-status:not(td *)")).to_contain_text("completed")

    # The second order ships, then completes on its own once the (short) configured days have passed.
    settings.ORDER_AUTO_COMPLETE_DAYS = 15 / 86400  # fifteen seconds: room for a slow browser before the check
    _ship_in_the_admin(page, live_server, second, "SF1234567890124")
    expect(page.locator(".wechat-shipping-status")).to_contain_text("WeChat has it")
    # Its buyer accepted no template: no message, and the order page says why.
    expect(page.get_by_text(str(SubscribeMessageOutcome.NOT_ACCEPTED.label))).to_be_visible()
    assert (
        SubscribeMessage.objects.get(order=second, event=OrderMilestone.SHIPPED).outcome
        == SubscribeMessageOutcome.NOT_ACCEPTED
    )
    assert _messages(sandbox, second.customer) == []
    assert complete_delivered_orders.delay().get() == 0  # not yet
    shipped_at = Order.objects.get(pk=second.pk).shipped_at
    time.sleep(max(0.0, (shipped_at + timedelta(seconds=15.5) - timezone.now()).total_seconds()))
    assert complete_delivered_orders.delay().get() == 1
    page.reload()
    expect(page.locator("div.field-status:not(td *)")).to_contain_text("completed")
    page.screenshot(path=screenshot_dir / "operations-order-completed-automatically.png", full_page=True)
    assert Order.objects.get(pk=second.pk).status == OrderStatus.COMPLETED
    assert ShippingReport.objects.filter(status=ShippingReportStatus.REPORTED).count() == 2
    assert len(sandbox.shippings()) == 2
    assert len(sandbox.received("/cgi-bin/message/subscribe/send")) == 1  # the first buyer's, once
