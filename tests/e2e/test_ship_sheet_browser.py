"""Operations ship orders in bulk from a sheet, in Chromium: a wrong row stops the sheet, the corrected one ships all.

Uses the browser fixtures of test_admin_browser.py (Debian's Chromium driven by Playwright).
"""

import pytest
from openpyxl import Workbook

from orders.models import Order, OrderActor, OrderStatus
from orders.services.placement import order_create
from orders.services.status import order_transition
from tests.e2e import test_admin_browser
from tests.factories import AddressFactory, CustomerFactory, SkuFactory

browser = test_admin_browser.browser
staff_member = test_admin_browser.staff_member
screenshot_dir = test_admin_browser.screenshot_dir
_logged_in_page = test_admin_browser._logged_in_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("staff_groups")]


def _paid_order(nickname: str) -> Order:
    customer = CustomerFactory(nickname=nickname)
    address = AddressFactory(customer=customer, is_default=True)
    sku = SkuFactory(stock=5, price_fen=39900, product__title="亚麻床品")
    order = order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])
    return order_transition(order_id=order.pk, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT)


def _sheet(path, rows) -> str:
    workbook = Workbook()
    for row in [("订单号", "快递公司", "运单号"), *rows]:
        workbook.active.append(list(row))
    workbook.save(path)
    return str(path)


def test_operations_ship_orders_from_a_sheet_after_fixing_the_row_it_refused(
    browser, live_server, staff_member, screenshot_dir, tmp_path
):
    from playwright.sync_api import expect

    staff_member("Operations", "olivia")
    first, second = _paid_order("王小明"), _paid_order("李雷")
    page = _logged_in_page(browser, live_server, "olivia")
    page.goto(f"{live_server.url}/admin/orders/order/")
    page.locator("#ship-from-sheet").click()

    # A typo in the second row's tracking number: nothing is shipped, the row is named.
    wrong = _sheet(
        tmp_path / "wrong.xlsx",
        [(first.order_no, "顺丰速运", "SF1234567890123"), (second.order_no, "中通快递", "ZT-12")],
    )
    page.locator("#ship-sheet-form input[type=file]").set_input_files(wrong)
    page.get_by_role("button", name="Check and ship").click()
    row = page.locator("#sheet-row-errors tr.sheet-row-error[data-row='3']")
    expect(row).to_contain_text("is not a 中通快递 tracking number")
    expect(page.locator("#sheet-row-errors tr.sheet-row-error")).to_have_count(1)
    expect(page.locator("#ship-sheet-form")).to_contain_text("Nothing was shipped")
    page.screenshot(path=screenshot_dir / "operations-ship-sheet-refused.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # 1280 wide: no sideways scroll
    assert set(Order.objects.values_list("status", flat=True)) == {OrderStatus.PAID}

    fixed = _sheet(
        tmp_path / "fixed.xlsx",
        [(first.order_no, "顺丰速运", "SF1234567890123"), (second.order_no, "中通快递", "75012345678901")],
    )
    page.locator("#ship-sheet-form input[type=file]").set_input_files(fixed)
    page.get_by_role("button", name="Check and ship").click()

    expect(page.locator(".messagelist, #messages, [role=alert]").first).to_contain_text("2 orders are shipped")
    for order in (first, second):
        expect(page.locator("#result_list tbody tr", has_text=order.order_no)).to_be_visible()
    expect(page.locator("#result_list")).to_contain_text("王小明")
    page.screenshot(path=screenshot_dir / "operations-ship-sheet-shipped.png", full_page=True)
    # The person who bought each order is a link to their page: the customer, their orders and money.
    page.locator("#result_list tbody tr", has_text=first.order_no).get_by_role("link", name="王小明").click()
    expect(page.locator(".field-order_count")).to_contain_text("1")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=screenshot_dir / "operations-customer-page.png", full_page=True)
    shipped = {order.order_no: (order.status, order.carrier) for order in Order.objects.all()}
    assert shipped == {first.order_no: ("shipped", "sf"), second.order_no: ("shipped", "zto")}
