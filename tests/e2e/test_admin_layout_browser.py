"""No admin page scrolls sideways at the laptop sizes staff use, and the push list's buttons stay clickable.

A superuser visits every changelist the admin registers, the first row's page of each, and our own
pages (push calendar, schedule, preview, stock adjust, ship, refund, reconcile, revenue report), at 1280×800 and
1440×900, with rows whose long texts would push a table wider than the page; and no page loads
anything from another host.
"""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from articles.models import Follower, PushBatch, PushStatus
from catalog.services import sku_stock_adjust
from orders.models import Discrepancy, ReconciliationRun
from orders.services.payments import payment_paid_record
from orders.services.placement import order_create
from tests.articles.push_builders import service_account, subscription_account
from tests.e2e.test_admin_browser import PASSWORD, browser, screenshot_dir  # noqa: F401
from tests.factories import AddressFactory, ArticleFactory, CustomerFactory, PaymentFactory, PushFactory, SkuFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("staff_groups")]

VIEWPORTS = [{"width": 1280, "height": 800}, {"width": 1440, "height": 900}]
LONG = "Autumn oolong from the Wuyi mountains, picked on the first cool morning and roasted twice"


def _rows_with_long_texts():
    """One row of each kind the admin lists, with texts as long as their fields allow."""
    account = service_account(name="Daily Tea House of the Wuyi Mountains")
    subscription_account(name="Second Tea House")
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, is_default=True, detail=LONG[:200], recipient="欧阳小明同学")
    sku = SkuFactory(
        code="OOLONG-WUYI-ROASTED-TWICE-250G-TIN",
        stock=20,
        price_fen=39900,
        product__title=LONG[:120],
        # Values as long as the spec matrix allows (catalog/spec_matrix.py), so its rows are as wide as they get.
        specs={"包装规格": "武夷山正岩大红袍二次焙火铁罐装二百五十克", "年份": "二〇二五年秋季第一批次手工采摘"},
    )
    sku_stock_adjust(sku_id=sku.pk, delta=5, reason=LONG[:80], by=None)
    order = order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])
    payment = PaymentFactory(order=order)
    payment_paid_record(
        out_trade_no=payment.out_trade_no,
        transaction_id="4200001234202612040123456789",
        amount_fen=payment.amount_fen,
        paid_at=timezone.now(),
        reason="payment notification",
    )
    article = ArticleFactory(title=LONG[:32])
    push = PushFactory(account=account, title=LONG[:100], status=PushStatus.SENT, scheduled_at=timezone.now())
    PushBatch.objects.create(push=push, number=1, clientmsgid="long-1", sent_count=12345, total_count=12400)
    draft = PushFactory(account=account, title="Draft push")
    draft.push_articles.create(article=article, position=1)
    Follower.objects.create(account=account, openid="o" * 28, nickname=LONG[:100], subscribed_at=timezone.now())
    run = ReconciliationRun.objects.create(
        bill_date=timezone.now().date() - timedelta(days=1),
        triggered_by="beat",
        status="succeeded",
        started_at=timezone.now(),
        error_message=LONG,
    )
    Discrepancy.objects.create(
        run=run,
        last_seen_run=run,
        bill_date=run.bill_date,
        kind="amount_mismatch",
        problem_key="long-1",
        out_trade_no=order.order_no,
        local_amount_fen=39900,
        wechat_amount_fen=39800,
    )
    return {"sku": sku, "order": order, "push": draft}


def _pages(rows) -> list[str]:
    pages = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        first = model_admin.get_queryset(_SuperuserRequest()).order_by("pk").first()
        if first is not None:
            pages.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk]))
    return pages + [
        reverse("admin:articles_push_calendar"),
        reverse("admin:articles_push_schedule", args=[rows["push"].pk]),
        reverse("admin:articles_push_preview", args=[rows["push"].pk]),
        reverse("admin:catalog_sku_adjust_stock", args=[rows["sku"].pk]),
        reverse("admin:catalog_product_add"),
        reverse("admin:orders_order_ship", args=[rows["order"].pk]),
        reverse("admin:orders_order_refund", args=[rows["order"].pk]),
        reverse("admin:orders_reconciliationrun_reconcile"),
        reverse("admin:revenue_report"),
        reverse("admin:revenue_report") + "?by=push",
    ]


class _SuperuserRequest:
    """What a ModelAdmin's get_queryset reads of a request, for listing the first row of each model."""

    user = type("Superuser", (), {"is_superuser": True, "is_active": True, "has_perm": lambda *args: True})()


def _logged_in(browser, live_server, viewport):  # noqa: F811
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/admin/")
    page.locator("#id_username").fill("root")
    page.locator("#id_password").fill(PASSWORD)
    page.locator("#id_password").press("Enter")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


# Some 60 pages at two sizes, each waiting for fonts and paint: past the default 120 s on a busy machine.
@pytest.mark.timeout(360)
def test_no_admin_page_scrolls_sideways_at_1280_and_1440(browser, live_server):  # noqa: F811
    get_user_model().objects.create_superuser("root", password=PASSWORD)
    pages = _pages(_rows_with_long_texts())
    assert len(pages) > 40  # every changelist, their rows, our pages

    too_wide, elsewhere = [], []
    page = _logged_in(browser, live_server, VIEWPORTS[0])
    # The theme's styles, fonts and Chart.js come from our static files: nothing from a CDN.
    page.on("request", lambda request: request.url.startswith(live_server.url) or elsewhere.append(request.url))
    for path in pages:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, (path, response.status)
        # Loaded once, at the wider size the last page left, then measured at each size after a resize: at
        # 1280 what a script sized at load for 1440 must fit too, stricter than a fresh load. The editor,
        # the charts and the fonts lay out after load and after a resize: measured once they have painted.
        for viewport in VIEWPORTS:
            page.set_viewport_size(viewport)
            page.evaluate("() => document.fonts.ready.then(() => new Promise(r => setTimeout(r, 200)))")
            widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
            if widths[0] > widths[1]:
                too_wide.append((viewport["width"], path, widths[0]))
    page.context.close()

    assert too_wide == []
    assert elsewhere == []


def test_the_push_lists_calendar_link_is_clickable_above_the_quota_table_at_1440(
    browser,  # noqa: F811
    live_server,
    screenshot_dir,  # noqa: F811
):
    from playwright.sync_api import expect

    get_user_model().objects.create_superuser("root", password=PASSWORD)
    for number in range(3):
        subscription_account(name=f"Tea House number {number} of the Wuyi Mountains")
    page = _logged_in(browser, live_server, {"width": 1440, "height": 900})

    page.goto(f"{live_server.url}{reverse('admin:articles_push_changelist')}")
    expect(page.locator("#push-quota")).to_contain_text("Tea House number 2")
    page.screenshot(path=screenshot_dir / "marketing-push-list-1440.png", full_page=True)
    # Playwright clicks only what receives the pointer there: a table drawn over the link fails this.
    page.get_by_role("link", name="Calendar", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}{reverse('admin:articles_push_calendar')}")
