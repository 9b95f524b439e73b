"""Each role's home page in a real browser, from real data: its figures move as orders are paid and refunded."""

from datetime import timedelta

import pytest
from django.utils import timezone

from articles.models import Follower, PushBatch, PushStatus
from orders.services.placement import order_create
from tests.articles.push_builders import subscription_account
from tests.e2e.test_admin_browser import _logged_in_page, browser, screenshot_dir, staff_member  # noqa: F401
from tests.factories import AddressFactory, CustomerFactory, PushFactory, SkuFactory
from tests.orders.refund_helpers import paid_payment, tasks_run_eagerly  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups", "tasks_run_eagerly"),
]


def _chart_drawn(page, selector: str) -> bool:
    # Chart.js keeps the chart it drew on the canvas: proof the library loaded (from our static files) and ran.
    return page.evaluate(f"() => !!Chart.getChart(document.querySelector('{selector} canvas.chart'))")


# Seen taking 100 s of the default 120 on two cores shared with other runs: room to finish.
@pytest.mark.timeout(300)
def test_operations_home_moves_when_an_order_is_paid_and_refunded(
    browser,  # noqa: F811
    live_server,
    staff_member,  # noqa: F811
    screenshot_dir,  # noqa: F811
    sandbox,
    settings,
):
    from playwright.sync_api import expect

    settings.WECHAT_PAY_REFUND_NOTIFY_URL = f"{live_server.url}/wechat/pay/refund-notify/"
    settings.ORDER_PAYMENT_TIMEOUT_MINUTES = 15  # unpaid, the order is among those about to expire
    staff_member("Operations", "omar")
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, is_default=True)
    sku = SkuFactory(code="CUP-LAST", price_fen=3990, stock=4, product__title="Celadon cup")
    order = order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])
    page = _logged_in_page(browser, live_server, "omar")

    expect(page.locator("#marketing-home")).to_have_count(0)
    expect(page.locator("#home-paid-orders strong")).to_have_text("0")
    expect(page.locator("#home-revenue strong")).to_have_text("¥0.00")
    expect(page.locator("#home-to-ship strong")).to_have_text("0")
    expect(page.locator("#home-expiring strong")).to_have_text("1")
    expect(page.locator("#home-expiring-list")).to_contain_text(order.order_no)
    # Placing the order took one of four: three left, low stock.
    expect(page.locator("#home-low-stock tr", has_text="CUP-LAST").locator(".stock-left")).to_have_text("3")

    payment = paid_payment(sandbox, order)
    page.reload()
    expect(page.locator("#home-paid-orders strong")).to_have_text("1")
    expect(page.locator("#home-revenue strong")).to_have_text("¥39.90")
    expect(page.locator("#home-to-ship strong")).to_have_text("1")
    expect(page.locator("#home-expiring strong")).to_have_text("0")
    assert _chart_drawn(page, "#home-sales")
    page.screenshot(path=screenshot_dir / "operations-home-paid.png", full_page=True)

    page.goto(f"{live_server.url}/admin/orders/order/{order.pk}/refund/")
    page.get_by_label("Partial: the amount below").check()
    page.get_by_label("Amount (yuan)").fill("10.00")
    page.get_by_label("Reason").fill("one cup arrived chipped")
    page.get_by_role("button", name="Refund through WeChat Pay").click()
    expect(page.locator(".messagelist")).to_contain_text("is requested from WeChat Pay")

    page.goto(f"{live_server.url}/admin/")
    expect(page.locator("#home-revenue strong")).to_have_text("¥29.90")
    expect(page.locator("#home-revenue small")).to_contain_text("¥10.00")
    expect(page.locator("#home-refunds-waiting strong")).to_have_text("1")
    page.screenshot(path=screenshot_dir / "operations-home-refunded.png", full_page=True)
    assert payment.amount_fen == 3990


def test_marketing_home_shows_quota_the_next_push_reach_and_followers(
    browser,  # noqa: F811
    live_server,
    staff_member,  # noqa: F811
    screenshot_dir,  # noqa: F811
):
    from playwright.sync_api import expect

    staff_member("Marketing", "mei")
    account = subscription_account(name="Daily Tea")
    now = timezone.now()
    sent = PushFactory(
        account=account, title="Autumn leaves", status=PushStatus.SENT, scheduled_at=now - timedelta(days=1)
    )
    sent.__class__.objects.filter(pk=sent.pk).update(sent_at=now - timedelta(days=1))
    PushBatch.objects.create(
        push=sent,
        number=1,
        clientmsgid="autumn-1",
        accepted_at=now - timedelta(days=1),
        total_count=320,
        sent_count=300,
        filter_count=305,  # WeChat's FilterCount: who remained after filtering; 15 were filtered out
        error_count=5,
    )
    PushFactory(account=account, title="Winter tea", status=PushStatus.SCHEDULED, scheduled_at=now + timedelta(days=2))
    for number in range(3):
        Follower.objects.create(account=account, openid=f"o-{number}", subscribed_at=now - timedelta(days=number))
    page = _logged_in_page(browser, live_server, "mei")

    expect(page.locator("#operations-home")).to_have_count(0)
    expect(page.locator("#home-quota tr", has_text="Daily Tea").locator(".quota-this")).to_contain_text("1 of 1")
    expect(page.locator("#home-next-pushes")).to_contain_text("Winter tea")
    reach = page.locator("#home-reach tr", has_text="Autumn leaves")
    expect(reach.locator(".reach-sent")).to_have_text("300")
    expect(reach.locator(".reach-filtered")).to_have_text("15")
    expect(reach.locator(".reach-errors")).to_have_text("5")
    expect(page.locator("#followers-now")).to_have_text("3")
    assert _chart_drawn(page, "#home-reach") and _chart_drawn(page, "#home-followers")
    page.screenshot(path=screenshot_dir / "marketing-home.png", full_page=True)

    # Winter tea's day has its one mass send taken; today's is still free. Schedule today's and see it go.
    PushFactory(account=account, title="Today's tea", status=PushStatus.SCHEDULED, scheduled_at=now)
    page.reload()
    expect(page.locator("#home-quota tr", has_text="Daily Tea").locator(".quota-this")).to_contain_text("0 of 1")
    expect(page.locator("#home-next-pushes li").first).to_contain_text("Today's tea")
