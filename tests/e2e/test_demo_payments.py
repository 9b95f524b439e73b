"""Issue 8's demo, end to end: a Mini Program customer logs in, orders and pays (the sandbox's control API plays
the customer's phone); Operations, in Chromium, sees the order paid, refunds part of it, reconciles the day with
no discrepancy, then reconciles a bill with one tampered row and sees exactly that discrepancy.

On both WeChat Pay APIs: v3, as `make demo` runs (the merchant's keys the sandbox's, its notifications JSON
signed with WeChat Pay's key and encrypted with the APIv3 key, the v3 trade bill), and v2.

The customer's side is real HTTP to the live server, as the Mini Program calls it; WeChat's payment and refund
notifications come from the sandbox to the live server. Tasks queued by the admin run at once in this process.
"""

import time

import pytest
import requests

from orders.models import Discrepancy, Order, OrderStatus, Payment, ReconciliationRun
from tests.e2e import test_admin_browser
from tests.factories import SkuFactory
from tests.orders.payments_v3 import sandbox_v3_shop
from tests.orders.reconciliation_helpers import bill_ready, sandbox_now
from tests.orders.refund_helpers import tasks_run_eagerly  # noqa: F401

browser = test_admin_browser.browser
staff_member = test_admin_browser.staff_member
screenshot_dir = test_admin_browser.screenshot_dir
_logged_in_page = test_admin_browser._logged_in_page

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups", "tasks_run_eagerly"),
]


def _wait_until(condition, what: str, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _customer_orders_and_pays(api: str, sandbox) -> Order:
    """What the Mini Program does: wx.login, an address, an order, wx.requestPayment (the sandbox pays)."""
    code = sandbox.mint_login_code()["code"]
    token = requests.post(f"{api}/auth/login", json={"code": code}, timeout=10).json()["token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    address = session.post(
        f"{api}/addresses",
        json={
            "recipient": "王小明",
            "phone": "13800138000",
            "region": {"province": "上海市", "city": "上海市", "district": "徐汇区"},
            "detail": "漕溪北路 1 号",
        },
        timeout=10,
    ).json()
    sku = SkuFactory(price_fen=12800, stock=5)
    created = session.post(
        f"{api}/orders",
        json={"items": [{"sku_id": sku.pk, "quantity": 1}], "address_id": address["id"]},
        headers={"Idempotency-Key": "demo-order-1"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    order_no = created.json()["order_no"]
    pay = session.post(f"{api}/orders/{order_no}/pay", timeout=10)
    assert pay.status_code == 200 and pay.json()["package"].startswith("prepay_id="), pay.text
    sandbox.pay_order(Payment.objects.get(order__order_no=order_no).out_trade_no)
    _wait_until(lambda: Order.objects.get(order_no=order_no).status == OrderStatus.PAID, "the payment notification")
    assert session.get(f"{api}/orders/{order_no}", timeout=10).json()["status"] == "paid"
    return Order.objects.get(order_no=order_no)


def _reconcile(page, live_server, day) -> ReconciliationRun:
    page.goto(f"{live_server.url}/admin/orders/reconciliationrun/reconcile/")
    page.get_by_label("Date").fill(day.isoformat())
    page.get_by_role("button", name="Reconcile").click()
    page.locator(".messagelist").filter(has_text=f"Reconciliation of {day} has started").wait_for()
    run = ReconciliationRun.objects.latest("started_at")
    page.goto(f"{live_server.url}/admin/orders/reconciliationrun/{run.pk}/change/")
    return run


@pytest.mark.parametrize("api_version", ["v3", "v2"])
def test_a_payment_a_refund_and_the_days_reconciliation(
    browser, live_server, staff_member, screenshot_dir, sandbox, settings, api_version
):
    from playwright.sync_api import expect

    settings.WECHAT_PAY_NOTIFY_URL = f"{live_server.url}/wechat/pay/notify/"
    settings.WECHAT_PAY_REFUND_NOTIFY_URL = f"{live_server.url}/wechat/pay/refund-notify/"
    if api_version == "v3":
        sandbox_v3_shop(sandbox, settings)
    day = sandbox_now(sandbox).date()
    order = _customer_orders_and_pays(f"{live_server.url}/api/v1", sandbox)
    payment = order.payments.get()
    assert payment.sign_type == ("RSA" if api_version == "v3" else settings.WECHAT_PAY_SIGN_TYPE)
    # The order is paid while the sandbox still waits for the answer; it records the delivery after.
    _wait_until(lambda: sandbox.outbox("delivered"), "the sandbox to record the notification delivered")
    notified = [delivery["url"] for delivery in sandbox.outbox("delivered")]
    notify_path = "/wechat/pay/v3/notify/" if api_version == "v3" else "/wechat/pay/notify/"
    assert notified == [f"{live_server.url}{notify_path}"]

    staff_member("Operations", "omar")
    page = _logged_in_page(browser, live_server, "omar")
    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/change/")
    expect(page.locator("div.field-status:not(td *)")).to_contain_text("paid")

    # Part of it back to the customer, through WeChat Pay; WeChat's refund notification settles it.
    page.get_by_role("link", name="Refund", exact=True).click()
    page.get_by_label("Partial: the amount below").check()
    page.get_by_label("Amount (yuan)").fill("28.00")
    page.get_by_label("Reason").fill("the lid arrived cracked")
    page.get_by_role("button", name="Refund through WeChat Pay").click()
    expect(page.locator(".messagelist")).to_contain_text("of ¥28.00 is requested from WeChat Pay")
    sandbox.advance_clock(10)
    _wait_until(
        lambda: Order.objects.get(pk=order.pk).status == OrderStatus.PARTIALLY_REFUNDED, "the refund notification"
    )

    # The next morning the day's bill is ready: everything agrees.
    bill_ready(sandbox, day)
    run = _reconcile(page, live_server, day)
    expect(page.locator("div.field-status:not(td *)")).to_contain_text("succeeded")
    expect(page.locator("div.field-discrepancy_count:not(td *)")).to_contain_text("0")
    run.refresh_from_db()
    assert (run.payment_rows, run.refund_rows, run.discrepancy_count) == (1, 1, 0)
    assert run.api_version == api_version
    page.screenshot(path=screenshot_dir / f"operations-reconciled-day-{api_version}.png", full_page=True)

    # A bill with one tampered row: exactly that discrepancy.
    out_trade_no = order.payments.get().out_trade_no
    sandbox.change_bill(day.strftime("%Y%m%d"), {"订单金额": "1.28", "应结订单金额": "1.28"}, out_trade_no=out_trade_no)
    run = _reconcile(page, live_server, day)
    run.refresh_from_db()
    assert run.discrepancy_count == 1
    [problem] = Discrepancy.objects.filter(status="open")
    assert (problem.kind, problem.out_trade_no, problem.wechat_amount_fen, problem.local_amount_fen) == (
        "amount_mismatch",
        out_trade_no,
        128,
        12800,
    )
    expect(page.locator("#discrepancies-group")).to_contain_text(out_trade_no)
    page.screenshot(path=screenshot_dir / f"operations-reconciled-tampered-bill-{api_version}.png", full_page=True)
