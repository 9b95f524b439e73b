"""Each role's day in Chromium, in Chinese, at the two laptop sizes staff use (issue 16, item 8).

Marketing writes an article with a photo, schedules a push for now, and sees it sent (a real Celery worker
sends it to the sandbox, which posts MASSSENDJOBFINISH to the live server) with its reach on the home page.
Operations edits a product's spec matrix, ships orders from a sheet, refunds one (the sandbox notifies the
refund), reconciles a bill the sandbox was told to get wrong, resolves the discrepancy, and watches the home
page's figures move.

Every page the walk reaches is checked: in Chinese (html lang and the site's Chinese header), no sideways
scroll, no server error. At 1440×900 the main screens are saved: into docs/screens/ with SAVE_SCREENS=1
(docs/screens/README.md), otherwise into a temporary folder, so a CI run leaves the tree as it was.
"""

import io
import os
import time
from pathlib import Path

import pytest
from django.utils import timezone, translation
from openpyxl import Workbook
from PIL import Image

from articles.models import Article, Push, PushStatus
from articles.services.followers import followers_sync
from articles.tasks import dispatch_pushes
from catalog.models import Sku
from orders.models import Discrepancy, DiscrepancyStatus, Order, OrderStatus, ReconciliationRun
from orders.services.placement import order_create
from tests.articles.image_samples import encoded, noisy_photo, several_megabyte_jpeg
from tests.articles.pushes import account_registered
from tests.e2e.test_admin_browser import PASSWORD, browser, staff_member  # noqa: F401
from tests.factories import AddressFactory, CustomerFactory, ProductFactory, SkuFactory
from tests.orders.reconciliation_helpers import bill_ready, paid_at_wechat, sandbox_now
from tests.orders.refund_helpers import tasks_run_eagerly  # noqa: F401
from wechat.models import OfficialAccount

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups"),
    pytest.mark.chinese_staff,  # staff keep the default language: Chinese
]

VIEWPORTS = [
    pytest.param({"width": 1440, "height": 900}, id="1440x900"),
    pytest.param({"width": 1280, "height": 800}, id="1280x800"),
]
# The size the screenshots in docs/screens/ are taken at.
SCREENS_WIDTH = 1440
DOCS_SCREENS = Path(__file__).resolve().parents[2] / "docs" / "screens"
# On every admin page: the site's header, in the sidebar, in Chinese.
SITE_HEADER_ZH = "微信内容与商城管理后台"
FOLLOWERS = 7


def zh(english: str) -> str:
    """What the admin shows for a string of ours (or Django's) in Chinese: found by the words staff read."""
    with translation.override("zh-hans"):
        chinese = translation.gettext(english)
    assert chinese != english, f"no Chinese for {english!r}"
    return chinese


@pytest.fixture
def screens(tmp_path, viewport):
    """save(target, name): a screenshot of a page (full) or an element, at 1440×900 only."""
    directory = DOCS_SCREENS if os.environ.get("SAVE_SCREENS") == "1" else tmp_path / "screens"
    directory.mkdir(parents=True, exist_ok=True)

    def save(target, name: str) -> None:
        """A page whole, or one element of it."""
        if viewport["width"] != SCREENS_WIDTH:
            return
        page = target if hasattr(target, "goto") else target.page
        page.evaluate("() => document.fonts.ready")
        # Chromium's full-page shot draws the theme's sticky bars where the window ended, over the middle
        # of a long page (and over an element below the fold): a window as tall as the page keeps them at
        # its edges.
        height = page.evaluate("() => document.scrollingElement.scrollHeight")
        page.set_viewport_size({"width": viewport["width"], "height": max(height, viewport["height"])})
        target.screenshot(path=directory / name)
        page.set_viewport_size(viewport)

    return save


class StaffWalk:
    """One staff member's browser, checking each page it lands on."""

    def __init__(self, browser, live_server, viewport: dict):  # noqa: F811
        self.base_url = live_server.url
        self.page = browser.new_context(viewport=viewport, locale="zh-CN").new_page()
        # Generous: two cores shared with a Celery worker, the sandbox and other runs.
        self.page.set_default_timeout(30_000)
        self.server_errors: list[str] = []
        self.page.on("response", self._note_server_error)
        self.checked: list[str] = []

    def _note_server_error(self, response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.url}")

    def log_in(self, username: str) -> None:
        from playwright.sync_api import expect

        self.page.goto(f"{self.base_url}/admin/")
        self.page.locator("input[name=username]").fill(username)
        self.page.locator("input[name=password]").fill(PASSWORD)
        self.page.locator("form#login-form [type=submit]").click()
        expect(self.page.get_by_role("heading", name=zh("Official Account and Mini Program"))).to_be_visible()
        self.check()

    def visit(self, path: str) -> None:
        response = self.page.goto(f"{self.base_url}{path}")
        assert response.status == 200, (path, response.status)
        self.check()

    def check(self) -> None:
        """The page as it stands: in Chinese, as wide as the window at most, reached without a server error."""
        from playwright.sync_api import expect

        page = self.page
        page.wait_for_load_state("load")
        expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
        expect(page.locator("body")).to_contain_text(SITE_HEADER_ZH)
        # The editor, the charts and the fonts lay out after load: measure once they have painted.
        page.evaluate("() => document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(r)))")
        widths = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{page.url} scrolls sideways: {widths[0]} px wide in {widths[1]}"
        assert self.server_errors == []
        self.checked.append(page.url.removeprefix(self.base_url))

    def click_and_check(self, locator) -> None:
        with self.page.expect_navigation():
            locator.click()
        self.check()


def _wait_until(condition, what: str, *, seconds: float, step=None) -> None:
    """Polls a real event (a worker's send, a notification) with a generous deadline; `step` nudges it along."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if step:
            step()
        time.sleep(0.5)


# --- Marketing ----------------------------------------------------------------------------------------


def _insert_photo(walk: StaffWalk, path: Path) -> None:
    page = walk.page
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name=zh("insert image")).click()
    chooser.value.set_files(path)
    # Not merely the name: the line names the file while it uploads, too.
    inserted = zh("{name} inserted.").format(name=path.name)
    page.locator(".wechat-image-status").filter(has_text=inserted).wait_for(timeout=60_000)


@pytest.mark.timeout(480)
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_marketings_day_article_push_sent_and_its_reach_on_the_home_page(
    browser,  # noqa: F811
    live_server,
    staff_member,  # noqa: F811
    celery_worker,
    sandbox,
    tmp_path,
    viewport,
    screens,
):
    from playwright.sync_api import expect

    staff_member("Marketing", "xiaomei")
    account = account_registered(sandbox, callback_base_url=live_server.url)
    OfficialAccount.objects.filter(pk=account.pk).update(name="每日茶事")
    account.refresh_from_db()
    sandbox.add_followers(account.appid, count=FOLLOWERS)
    followers_sync(account=account)  # what beat's sync (or the first one offered in the admin) does
    walk = StaffWalk(browser, live_server, viewport)
    page = walk.page

    walk.log_in("xiaomei")
    quota = page.locator(f"#home-quota tr[data-account='{account.appid}'] .quota-this")
    # A service account: four mass sends to all followers a calendar month.
    expect(quota).to_contain_text("4")
    expect(page.locator("#home-reach")).to_contain_text(zh("No mass send has finished yet."))
    expect(page.locator("#followers-now")).to_have_text(str(FOLLOWERS))

    # The article: a cover, a line of text and a several-MB photo through the editor's image button.
    photo = tmp_path / "tea-field.jpg"
    photo.write_bytes(several_megabyte_jpeg())
    cover = tmp_path / "cover.jpg"
    cover.write_bytes(encoded(noisy_photo(900, 383), "JPEG", quality=90))
    walk.visit("/admin/articles/article/add/")
    page.locator("#id_title").fill("秋日乌龙")
    page.locator("#id_author").fill("小美")
    page.locator("#id_cover").set_input_files(cover)
    editor = page.locator(".ProseMirror[contenteditable=true]")
    editor.click()
    page.keyboard.type("第一个凉爽的清晨采摘，焙火两次。")
    _insert_photo(walk, photo)
    expect(editor.locator("img")).to_have_count(1)
    expect(page.frame_locator("#article-phone-preview").locator("#preview-content img")).to_have_count(1)
    walk.check()
    screens(page, "article-editor.png")
    walk.click_and_check(page.get_by_role("button", name=zh("Save"), exact=True))
    expect(page.locator(".messagelist")).to_contain_text("秋日乌龙")
    article = Article.objects.get(title="秋日乌龙")
    assert article.content.count("<img ") == 1

    # The push: this article, to all followers, "send now" (due at once: the next beat takes it).
    walk.visit("/admin/articles/push/add/")
    page.locator("#id_account").select_option(label=str(account))
    page.locator("#id_title").fill("秋日乌龙上新")
    page.locator("#id_push_articles-0-article").select_option(label="秋日乌龙")
    page.locator("#id_push_articles-0-position").fill("1")
    page.locator("#id_send_now").check()
    walk.click_and_check(page.get_by_role("button", name=zh("Save and schedule")))
    expect(page.locator(".messagelist")).to_contain_text("秋日乌龙上新")
    push = Push.objects.get(title="秋日乌龙上新")
    assert push.status == PushStatus.SCHEDULED

    # Beat fires the dispatch task every minute; here every half second until the worker has sent it
    # and WeChat's MASSSENDJOBFINISH has come back to the live server.
    _wait_until(
        lambda: Push.objects.get(pk=push.pk).status == PushStatus.SENT,
        "the push to be sent and WeChat's result to arrive",
        seconds=240,
        step=dispatch_pushes,
    )
    walk.visit(f"/admin/articles/push/{push.pk}/change/")
    expect(page.locator("div.field-status:not(td *)")).to_contain_text(zh("sent"))
    expect(page.locator("td.field-sent_count").first).to_have_text(str(FOLLOWERS))

    month = timezone.localtime().strftime("%Y-%m")
    walk.visit(f"/admin/articles/push/calendar/?account={account.pk}&month={month}")
    expect(page.locator("#push-calendar")).to_contain_text("秋日乌龙上新")
    screens(page, "push-calendar.png")

    # Home: the push's reach (sent, filtered, errors) and one mass send fewer this month.
    walk.visit("/admin/")
    reach = page.locator("#home-reach tr", has_text="秋日乌龙上新")
    expect(reach.locator(".reach-sent")).to_have_text(str(FOLLOWERS))
    expect(reach.locator(".reach-filtered")).to_have_text("0")
    expect(reach.locator(".reach-errors")).to_have_text("0")
    expect(quota).to_contain_text("3")
    assert page.evaluate("() => !!Chart.getChart(document.querySelector('#home-reach canvas.chart'))")
    screens(page, "marketing-home.png")
    assert len(walk.checked) >= 7, walk.checked


# --- Operations ---------------------------------------------------------------------------------------


def _paid_order(sandbox, *, nickname: str, sku: Sku) -> Order:
    customer = CustomerFactory(nickname=nickname)
    address = AddressFactory(customer=customer, is_default=True, recipient=nickname, phone="13800138000")
    order = order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])
    paid_at_wechat(sandbox, order)
    return Order.objects.get(pk=order.pk)


def _sheet(path: Path, rows) -> Path:
    workbook = Workbook()
    for row in [("订单号", "快递公司", "运单号"), *rows]:
        workbook.active.append(list(row))
    workbook.save(path)
    return path


def _home_figures(page) -> dict[str, str]:
    tiles = ["home-paid-orders", "home-revenue", "home-to-ship", "home-refunds-waiting"]
    return {tile: page.locator(f"#{tile} strong").inner_text() for tile in tiles}


def _edit_spec_matrix(walk: StaffWalk, product, tmp_path: Path, screens) -> None:
    from playwright.sync_api import expect

    page = walk.page
    walk.visit(f"/admin/catalog/product/{product.pk}/change/")
    rows = page.locator("#spec-matrix-rows tr")
    for name, values in (("颜色", ["雾灰", "靛蓝"]), ("床宽", ["1.5m", "1.8m"])):
        page.get_by_role("button", name=zh("Add a dimension")).click()
        card = page.locator(".spec-dimension").last
        card.locator(".spec-dimension-name").fill(name)
        card.locator(".spec-dimension-name").press("Tab")
        for value in values:
            card.locator(".spec-value-new").fill(value)
            card.locator(".spec-value-new").press("Enter")
    expect(rows).to_have_count(4)
    prices = [("BED-150-GREY", "399.00", "25"), ("BED-180-GREY", "459.00", "18")]
    prices += [("BED-150-BLUE", "399.00", "2"), ("BED-180-BLUE", "459.50", "9")]
    for index, (code, price, stock) in enumerate(prices):
        rows.nth(index).locator("input[name$=-code]").fill(code)
        rows.nth(index).locator("input[name$=-price]").fill(price)
        rows.nth(index).locator("input[name$=-stock]").fill(stock)
    photo = tmp_path / "blue.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), "navy").save(buffer, format="JPEG")
    photo.write_bytes(buffer.getvalue())
    rows.nth(3).locator("input[type=file]").set_input_files(photo)
    # The file button in the staff member's language (the browser's own would speak the browser's).
    expect(rows.nth(3).locator(".spec-matrix-upload-name")).to_have_text("blue.jpg")
    expect(rows.nth(0).locator(".spec-matrix-upload")).to_contain_text(zh("Choose an image"))
    expect(rows.nth(0).locator(".spec-matrix-upload-name")).to_have_text(zh("No image chosen"))
    walk.check()
    screens(page.locator("#spec-matrix"), "spec-matrix.png")
    walk.click_and_check(page.get_by_role("button", name=zh("Save and continue editing")))
    expect(page.locator(".messagelist")).to_contain_text(product.title)
    assert {sku.code: (sku.price_fen, sku.stock) for sku in Sku.objects.filter(product=product)} == {
        "BED-150-GREY": (39900, 25),
        "BED-180-GREY": (45900, 18),
        "BED-150-BLUE": (39900, 2),
        "BED-180-BLUE": (45950, 9),
    }


@pytest.mark.timeout(480)
@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_operations_day_specs_shipping_a_refund_and_reconciliation_move_the_home_page(
    browser,  # noqa: F811
    live_server,
    staff_member,  # noqa: F811
    sandbox,
    settings,
    tmp_path,
    viewport,
    screens,
    tasks_run_eagerly,  # noqa: F811
):
    from playwright.sync_api import expect

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.WECHAT_PAY_REFUND_NOTIFY_URL = f"{live_server.url}/wechat/pay/refund-notify/"
    staff_member("Operations", "laowang")
    day = sandbox_now(sandbox).date()
    linen = SkuFactory(code="LINEN-SET", price_fen=39900, stock=10, product__title="亚麻四件套")
    first = _paid_order(sandbox, nickname="王小明", sku=linen)
    second = _paid_order(sandbox, nickname="李雷", sku=linen)
    third = _paid_order(sandbox, nickname="韩梅梅", sku=linen)
    bed = ProductFactory(title="实木床")
    walk = StaffWalk(browser, live_server, viewport)
    page = walk.page

    walk.log_in("laowang")
    before = _home_figures(page)
    assert before == {
        "home-paid-orders": "3",
        "home-revenue": "¥1,197.00",
        "home-to-ship": "3",
        "home-refunds-waiting": "0",
    }
    expect(page.locator("#home-reconciliation")).to_contain_text(zh("No reconciliation has run yet."))

    _edit_spec_matrix(walk, bed, tmp_path, screens)

    # Two orders shipped from a sheet, as a warehouse sends it back.
    walk.visit("/admin/orders/order/")
    walk.click_and_check(page.locator("#ship-from-sheet"))
    sheet = _sheet(
        tmp_path / "shipped.xlsx",
        [(first.order_no, "顺丰速运", "SF1234567890123"), (second.order_no, "中通快递", "75012345678901")],
    )
    page.locator("#ship-sheet-form input[type=file]").set_input_files(sheet)
    walk.click_and_check(page.get_by_role("button", name=zh("Check and ship")))
    expect(page.locator("#result_list")).to_contain_text("王小明")
    assert set(Order.objects.filter(pk__in=[first.pk, second.pk]).values_list("status", flat=True)) == {"shipped"}

    # The third refunded in full; WeChat's refund notification settles it.
    walk.visit(f"/admin/orders/order/{third.pk}/refund/")
    page.get_by_label(zh("Full: everything not yet refunded")).check()
    page.get_by_label(zh("Reason")).fill("顾客不想要了")
    walk.click_and_check(page.get_by_role("button", name=zh("Refund through WeChat Pay")))
    expect(page.locator(".messagelist")).to_contain_text("¥399.00")
    # WeChat completes a refund some seconds later and notifies the live server: sooner with its clock moved.
    # (Not "1 refund waiting" on the home page meanwhile: on a loaded machine the notification may beat it.)
    sandbox.advance_clock(10)
    _wait_until(
        lambda: Order.objects.get(pk=third.pk).status == OrderStatus.REFUNDED, "the refund notification", seconds=60
    )
    walk.visit(f"/admin/orders/order/{third.pk}/change/")
    expect(page.locator("div.field-status:not(td *)")).to_contain_text(zh("refunded"))
    expect(page.locator("#events-group, [id$=events-group]").first).to_contain_text(zh("refunded"))
    screens(page, "order-timeline.png")

    walk.visit("/admin/")
    assert _home_figures(page) == {
        "home-paid-orders": "3",
        "home-revenue": "¥798.00",
        "home-to-ship": "0",
        "home-refunds-waiting": "0",
    }

    # The next morning's bill says the first order was paid ¥1.28: one discrepancy.
    bill_ready(sandbox, day)
    payment = first.payments.get()
    sandbox.change_bill(
        day.strftime("%Y%m%d"), {"订单金额": "1.28", "应结订单金额": "1.28"}, out_trade_no=payment.out_trade_no
    )
    walk.visit("/admin/orders/reconciliationrun/reconcile/")
    page.get_by_label(zh("Date")).fill(day.isoformat())
    walk.click_and_check(page.get_by_role("button", name=zh("Reconcile"), exact=True))
    run = ReconciliationRun.objects.get(bill_date=day)
    assert (run.status, run.discrepancy_count) == ("succeeded", 1)
    walk.visit(f"/admin/orders/reconciliationrun/{run.pk}/change/")
    expect(page.locator("#discrepancies-group")).to_contain_text(payment.out_trade_no)
    screens(page, "reconciliation-run.png")
    walk.visit("/admin/")
    run_row = page.locator("#home-reconciliation tbody tr").first
    expect(run_row.locator(".run-open")).to_have_text("1")

    # Resolved with a note, from the discrepancies' list.
    problem = Discrepancy.objects.get(run=run)
    walk.visit("/admin/orders/discrepancy/?status__exact=open")
    page.locator(f"input.action-select[value='{problem.pk}']").check()
    page.locator("select[name=action]").select_option("resolve")
    walk.click_and_check(page.locator("button[name=index], button[type=submit][form=changelist-form]").first)
    page.get_by_label(zh("Note")).fill("微信已更正账单")
    walk.click_and_check(page.get_by_role("button", name=zh("Resolve"), exact=True))
    problem.refresh_from_db()
    assert problem.status == DiscrepancyStatus.RESOLVED

    walk.visit("/admin/")
    expect(run_row.locator(".run-open")).to_have_text("0")
    assert _home_figures(page)["home-to-ship"] == "0"
    screens(page, "operations-home.png")
    assert len(walk.checked) >= 14, walk.checked
