"""Operations refunds part of a paid order in a real browser; WeChat (the sandbox) confirms it to the live server."""

import time

import pytest

from orders.models import Order, OrderStatus, Refund, RefundStatus
from orders.services.placement import order_create
from tests.e2e.test_admin_browser import _logged_in_page, browser, screenshot_dir, staff_member  # noqa: F401
from tests.factories import AddressFactory, CustomerFactory, SkuFactory
from tests.orders.refund_helpers import paid_payment, tasks_run_eagerly  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups", "tasks_run_eagerly"),
]


def test_operations_refunds_part_of_an_order_and_sees_it_settled(
    browser,  # noqa: F811
    live_server,
    staff_member,  # noqa: F811
    screenshot_dir,  # noqa: F811
    sandbox,
    settings,
):
    from playwright.sync_api import expect

    settings.WECHAT_PAY_REFUND_NOTIFY_URL = f"{live_server.url}/wechat/pay/refund-notify/"
    staff_member("Operations", "omar")
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, is_default=True)
    order = order_create(
        customer=customer, address_id=address.pk, items=[{"sku_id": SkuFactory(price_fen=3990).pk, "quantity": 1}]
    )
    paid_payment(sandbox, order)
    page = _logged_in_page(browser, live_server, "omar")

    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    page.get_by_role("link", name="Refund", exact=True).click()
    expect(page.locator("td.paid")).to_have_text("¥39.90")
    page.get_by_label("Partial: the amount below").check()
    page.get_by_label("Amount (yuan)").fill("40.00")
    page.get_by_label("Reason").fill("one cup arrived chipped")
    page.get_by_role("button", name="Refund through WeChat Pay").click()
    expect(page.locator(".errorlist")).to_contain_text("At most ¥39.90 is left to refund.")
    page.get_by_label("Amount (yuan)").fill("10.00")
    page.screenshot(path=screenshot_dir / "operations-refund-form.png", full_page=True)
    page.get_by_role("button", name="Refund through WeChat Pay").click()

    expect(page.locator(".messagelist")).to_contain_text("of ¥10.00 is requested from WeChat Pay")
    refund = Refund.objects.get()
    assert (refund.amount_fen, refund.status) == (1000, RefundStatus.PROCESSING)
    sandbox.advance_clock(10)  # WeChat completes it and notifies the live server
    deadline = time.monotonic() + 10
    while Order.objects.get(pk=order.pk).status != OrderStatus.PARTIALLY_REFUNDED and time.monotonic() < deadline:
        time.sleep(0.05)
    page.reload()
    expect(page.locator("div.field-status:not(td *)")).to_contain_text("partially refunded")
    page.screenshot(path=screenshot_dir / "operations-refunded-order.png", full_page=True)
