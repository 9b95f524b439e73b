"""The whole funnel in Chromium and over the Mini Program's API (issue 17, the first "Done means").

Marketing writes an article with a product card (the editor's Mini Program button) and schedules a push; a
real Celery worker sends it through the sandbox, whose MASSSENDJOBFINISH comes back to the live server. The
test reads the article as WeChat received it (the sandbox's draft, through its control API), takes the
card's path and plays the Mini Program over HTTP: a reader opens it from the article (scene 1058), logs in,
orders and pays in WeChat (the sandbox pays and notifies the live server). Marketing then starts a poster
campaign and has its Mini Program code drawn (the worker, wxa/getwxacodeunlimit); the test decodes the
downloaded PNG and a second buyer comes from it (scene 1047). Last, the revenue report: each order under
its push, article, campaign and scene, and Operations' partial refund taking exactly its amount off.
"""

import io
import time
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests
from django.utils import timezone
from PIL import Image

from articles.models import Article, MassSendJobFinished, Push, PushStatus
from articles.tasks import dispatch_pushes
from campaigns.models import Campaign, MiniProgramCode
from config.celery import app as celery_app
from customers.models import Customer
from orders.models import Order, OrderStatus, Payment, Refund, RefundStatus
from tests.articles.pushes import account_registered
from tests.e2e.test_admin_browser import PASSWORD, browser, staff_member  # noqa: F401
from tests.factories import ProductImageFactory, SkuFactory
from wechat.merchants import mini_program_default
from wechat.models import OfficialAccount

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("staff_groups")]

ARTICLE_SCENE = 1058  # 场景值: 公众号文章
CODE_SCENE = 1047  # 场景值: 扫描小程序码
FOLLOWERS = 5
PRICE_FEN = 12800
REFUND_FEN = 3000
MINI_PROGRAM_BUTTON = ".prose-menubar [title='Mini Program card or link']"
# WeChat answers the payment notification's acknowledgement with this, and so do we.
PAY_SUCCESS = "<xml><return_code><![CDATA[SUCCESS]]></return_code><return_msg><![CDATA[OK]]></return_msg></xml>"


def _wait_until(condition, what: str, *, seconds: float, step=None):
    """Polls a real event (a worker's send, a notification) with a generous deadline; `step` nudges it along."""
    deadline = time.monotonic() + seconds
    while not (result := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        if step:
            step()
        time.sleep(0.3)
    return result


class StaffBrowser:
    """One staff member's browser tab, in English, failing the test on any server error it meets."""

    def __init__(self, browser, live_server, username: str):  # noqa: F811
        from playwright.sync_api import expect

        self.base_url = live_server.url
        self.page = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True).new_page()
        self.page.set_default_timeout(30_000)
        self.server_errors: list[str] = []
        self.page.on("response", self._note_server_error)
        self.page.goto(f"{self.base_url}/admin/")
        self.page.locator("input[name=username]").fill(username)
        self.page.locator("input[name=password]").fill(PASSWORD)
        self.page.locator("form#login-form [type=submit]").click()
        expect(self.page.get_by_role("heading", name="Official Account and Mini Program")).to_be_visible()

    def _note_server_error(self, response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.url}")

    def visit(self, path: str) -> None:
        response = self.page.goto(f"{self.base_url}{path}")
        assert response.status == 200, (path, response.status)
        assert self.server_errors == []

    def click_and_wait(self, locator) -> None:
        with self.page.expect_navigation():
            locator.click()
        assert self.server_errors == []


@dataclass
class Launch:
    """How WeChat opened the Mini Program: the launch scene, and the page with its query (wx.getLaunchOptionsSync)."""

    scene: int
    page: str
    query: dict[str, str]

    @classmethod
    def from_card(cls, path: str) -> "Launch":
        """An article's card or link: `pages/product/detail?id=12&c=a7` opens that page with that query."""
        page, _, query = path.partition("?")
        return cls(scene=ARTICLE_SCENE, page=page, query=dict(parse_qsl(query)))

    @classmethod
    def from_code(cls, *, page: str, scene: str) -> "Launch":
        """A Mini Program code: its page opens with query.scene, which reads as a query (docs/api.md)."""
        return cls(scene=CODE_SCENE, page=page, query=dict(parse_qsl(scene)))

    @property
    def source(self) -> dict:
        return {"scene": self.scene, "campaign": self.query["c"], "path": self.page}


class MiniProgramClient:
    """What our Mini Program does over HTTP: log in, read the product, add an address, order and pay."""

    def __init__(self, base_url: str, *, appid: str):
        self.api = f"{base_url}/api/v1"
        self.session = requests.Session()
        # WeChat sets this Referer on every request a Mini Program makes; the login reads the app from it.
        self.session.headers.update(
            {"Referer": f"https://servicewechat.com/{appid}/1/page-frame.html", "Accept-Language": "en"}
        )

    def call(self, method: str, path: str, expected: int, **kwargs) -> dict:
        response = self.session.request(method, f"{self.api}/{path}", timeout=30, **kwargs)
        assert response.status_code == expected, (method, path, response.status_code, response.text)
        return response.json()

    def log_in(self, sandbox, launch: Launch) -> dict:
        minted = sandbox.mint_login_code()  # wx.login()
        answer = self.call("POST", "auth/login", 200, json={"code": minted["code"], "source": launch.source})
        self.session.headers["Authorization"] = f"Bearer {answer['token']}"
        return answer["customer"]

    def buy(self, launch: Launch, *, recipient: str) -> dict:
        """One of the first SKU of the product the launch opened, to a new address: the order as placed."""
        product = self.call("GET", f"catalog/products/{launch.query['id']}", 200)
        address = self.call(
            "POST",
            "addresses",
            201,
            json={
                "recipient": recipient,
                "phone": "13800138000",
                "region": {"province": "浙江省", "city": "杭州市", "district": "西湖区"},
                "detail": "龙井路 1 号",
            },
        )
        return self.call(
            "POST",
            "orders",
            201,
            json={
                "items": [{"sku_id": product["skus"][0]["id"], "quantity": 1}],
                "address_id": address["id"],
                "source": launch.source,
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )

    def pay(self, sandbox, order_no: str) -> dict:
        """wx.requestPayment with our prepay, the buyer paying in WeChat; the order once its notification came."""
        parameters = self.call("POST", f"orders/{order_no}/pay", 200)
        prepay_id = parameters["package"].removeprefix("prepay_id=")
        (at_wechat,) = [order for order in sandbox.pay_orders() if order["prepay_id"] == prepay_id]
        sandbox.pay_order(at_wechat["out_trade_no"])
        return _wait_until(
            lambda: (order := self.call("GET", f"orders/{order_no}", 200))["status"] == "paid" and order,
            "WeChat Pay's notification to mark the order paid",
            seconds=60,
        )


def _notification_acknowledged(sandbox, out_trade_no: str) -> None:
    """The payment notification the sandbox posted for `out_trade_no` was answered SUCCESS by the live server."""
    deliveries = [
        delivery
        for delivery in sandbox.outbox()
        if delivery["policy"] == "pay_notification" and f"<out_trade_no><![CDATA[{out_trade_no}]]>" in delivery["body"]
    ]
    assert [delivery["state"] for delivery in deliveries] == ["delivered"], deliveries
    assert deliveries[0]["attempts"][-1]["answer"] == PAY_SUCCESS


# --- Marketing: the article, its card and the push -------------------------------------------------------


def _cover(tmp_path: Path) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (900, 383), "darkolivegreen").save(buffer, format="JPEG", quality=85)
    path = tmp_path / "cover.jpg"
    path.write_bytes(buffer.getvalue())
    return path


def _article_with_a_product_card(marketing: StaffBrowser, product, tmp_path: Path) -> Article:
    from playwright.sync_api import expect

    page = marketing.page
    marketing.visit("/admin/articles/article/add/")
    page.locator("#id_title").fill("Autumn oolong")
    page.locator("#id_author").fill("Mei")
    page.locator("#id_cover").set_input_files(_cover(tmp_path))
    editor = page.locator(".ProseMirror[contenteditable=true]")
    editor.click()
    page.keyboard.type("Picked on the first cool morning, roasted twice. ")
    page.locator(MINI_PROGRAM_BUTTON).click()
    dialog = page.locator("dialog.wechat-mini-program-dialog")
    expect(dialog).to_be_visible()
    dialog.locator("select[name=kind]").select_option("card")
    dialog.locator("select[name=product]").select_option(str(product.pk))
    dialog.locator("button[value=insert]").click()
    expect(editor.locator(".wechat-mini-program-card")).to_contain_text(product.title)
    marketing.click_and_wait(page.get_by_role("button", name="Save", exact=True))
    expect(page.locator(".messagelist")).to_contain_text("Autumn oolong")
    return Article.objects.get(title="Autumn oolong")


def _push_scheduled_and_sent(marketing: StaffBrowser, account: OfficialAccount, article: Article) -> Push:
    from playwright.sync_api import expect

    page = marketing.page
    marketing.visit("/admin/articles/push/add/")
    page.locator("#id_account").select_option(label=str(account))
    page.locator("#id_title").fill("New autumn tea")
    page.locator("#id_push_articles-0-article").select_option(label=article.title)
    page.locator("#id_push_articles-0-position").fill("1")
    page.locator("#id_send_now").check()
    marketing.click_and_wait(page.get_by_role("button", name="Save and schedule"))
    expect(page.locator(".messagelist")).to_contain_text("New autumn tea")
    push = Push.objects.get(title="New autumn tea")
    assert push.status == PushStatus.SCHEDULED

    # Beat fires the dispatch every minute; here every few tenths of a second, until the worker has sent the
    # push and WeChat's MASSSENDJOBFINISH has come back to the live server.
    _wait_until(
        lambda: Push.objects.get(pk=push.pk).status == PushStatus.SENT,
        "the worker's send and WeChat's MASSSENDJOBFINISH",
        seconds=120,
        step=dispatch_pushes,
    )
    push.refresh_from_db()
    (batch,) = push.batches.all()
    assert batch.sent_count == FOLLOWERS
    assert MassSendJobFinished.objects.filter(account=account, msg_id=batch.msg_id).exists()
    return push


def _card_path_as_wechat_received_it(sandbox, account: OfficialAccount, push: Push) -> str:
    """The card's data-miniprogram-path in the article WeChat sent: the draft the sandbox keeps for the send."""
    (send,) = sandbox.mass_sends(account.appid)["sends"]
    assert send["media_id"] == push.draft_media_id and send["status"] == "send success"
    draft = sandbox.state()["parts"]["official_account_publishing"]["drafts"][send["media_id"]]
    (article,) = draft["news_item"]
    cards = _MiniProgramCards()
    cards.feed(article["content"])
    (card,) = cards.found
    assert card["data-miniprogram-appid"] == mini_program_default().appid
    return card["data-miniprogram-path"]


class _MiniProgramCards(HTMLParser):
    """The attributes of each <mp-miniprogram> in an article's HTML."""

    def __init__(self):
        super().__init__()
        self.found: list[dict[str, str]] = []

    def handle_starttag(self, tag, attrs):
        if tag == "mp-miniprogram":
            self.found.append(dict(attrs))


# --- Marketing: a poster's campaign and its Mini Program code ------------------------------------------


def _poster_code(marketing: StaffBrowser, sandbox, product, tmp_path: Path) -> tuple[MiniProgramCode, dict]:
    """Campaign and code made in the admin, drawn by the worker; the code and what its downloaded PNG reads."""
    import zxingcpp
    from playwright.sync_api import expect

    page = marketing.page
    marketing.visit("/admin/campaigns/campaign/add/")
    page.locator("#id_name").fill("Autumn poster")
    page.locator("#id_channel").select_option(Campaign.Channel.POSTER)
    page.locator("#id_code").fill("poster-autumn")
    marketing.click_and_wait(page.get_by_role("button", name="Save", exact=True))
    expect(page.locator(".messagelist")).to_contain_text("Autumn poster")
    campaign = Campaign.objects.get(code="poster-autumn")
    marketing.visit(f"/admin/campaigns/campaign/{campaign.pk}/change/")
    marketing.click_and_wait(page.get_by_role("link", name="Make a Mini Program code with this campaign"))
    page.locator("#id_product").select_option(str(product.pk))
    marketing.click_and_wait(page.get_by_role("button", name="Save", exact=True))
    code = MiniProgramCode.objects.get(campaign=campaign)

    _wait_until(
        lambda: MiniProgramCode.objects.get(pk=code.pk).status != MiniProgramCode.Status.QUEUED,
        "the worker to have WeChat draw the code",
        seconds=60,
    )
    code.refresh_from_db()
    assert code.status == MiniProgramCode.Status.READY, code.error
    marketing.visit(f"/admin/campaigns/miniprogramcode/{code.pk}/change/")
    expect(page.locator("div.field-scene")).to_contain_text(code.scene)
    with page.expect_download() as download:
        page.get_by_role("link", name="Download PNG").click()
    png = tmp_path / "poster-code.png"
    download.value.save_as(png)
    (barcode,) = zxingcpp.read_barcodes(Image.open(png))
    read = {name: values[0] for name, values in parse_qs(urlsplit(barcode.text).query).items()}
    assert [drawn["scene"] for drawn in sandbox.mini_program_pages()["codes"]] == [code.scene]
    return code, read


# --- Operations: a partial refund ------------------------------------------------------------------------


def _operations_refunds_part(operations: StaffBrowser, sandbox, order: Order, *, amount_fen: int) -> None:
    """Operations refunds `amount_fen` of `order` in the admin; WeChat's refund notification settles it.

    The refund is submitted as the admin's request commits, in the live server's process: the session's worker
    was started with no refund notify_url (no live server outlives a test), and WeChat would post this refund's
    notification to the payment endpoint instead of /wechat/pay/refund-notify/.
    """
    from playwright.sync_api import expect

    page = operations.page
    operations.visit(f"/admin/orders/order/{order.pk}/change/")
    operations.click_and_wait(page.get_by_role("link", name="Refund", exact=True))
    page.get_by_label("Partial: the amount below").check()
    page.get_by_label("Amount (yuan)").fill(f"{amount_fen / 100:.2f}")
    page.get_by_label("Reason").fill("one tin arrived dented")
    celery_app.conf.task_always_eager = True
    try:
        operations.click_and_wait(page.get_by_role("button", name="Refund through WeChat Pay"))
    finally:
        celery_app.conf.task_always_eager = False
    expect(page.locator(".messagelist")).to_contain_text(f"¥{amount_fen / 100:.2f}")
    sandbox.advance_clock(10)  # WeChat completes a refund some seconds later and notifies the live server
    _wait_until(
        lambda: Order.objects.get(pk=order.pk).status == OrderStatus.PARTIALLY_REFUNDED,
        "WeChat's refund notification",
        seconds=60,
    )
    (refund,) = Refund.objects.filter(payment__order=order)
    assert (refund.amount_fen, refund.status) == (amount_fen, RefundStatus.SUCCEEDED)


# --- The report -----------------------------------------------------------------------------------------


def _report(marketing: StaffBrowser, *, by: str) -> dict[str, dict[str, str]]:
    """The revenue report for today (Beijing) grouped `by`: {data-source: {data-figure: data-value}}."""
    from playwright.sync_api import expect

    day = timezone.localdate().isoformat()
    marketing.visit(f"/admin/revenue/?from={day}&to={day}&by={by}")
    expect(marketing.page.locator("#revenue-report")).to_have_attribute("data-by", by)
    return marketing.page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll("#revenue-report tr[data-source]")].map(row => [
            row.dataset.source,
            Object.fromEntries([...row.querySelectorAll("td[data-figure]")].map(cell => [
                cell.dataset.figure, cell.dataset.value,
            ])),
        ]))"""
    )


def _report_phase(
    marketing: StaffBrowser, *, push: Push, article: Article, poster: Campaign, first: Order, second: Order, refund
) -> None:
    """Each order under its push, article, campaign and scene; `refund()` of R fen takes exactly R off."""
    first_paid, second_paid = (Payment.objects.get(order=order).amount_fen for order in (first, second))

    by_push = _report(marketing, by="push")
    pushed = by_push[f"push:{push.pk}"]
    assert (pushed["orders"], pushed["buyers"], pushed["revenue_fen"]) == ("1", "1", str(first_paid))
    by_article = _report(marketing, by="article")
    assert by_article[f"article:{article.pk}"]["orders"] == "1"
    assert by_article[f"article:{article.pk}"]["revenue_fen"] == str(first_paid)
    by_campaign = _report(marketing, by="campaign")
    assert by_campaign[f"campaign:{poster.code}"]["orders"] == "1"
    assert by_campaign[f"campaign:{poster.code}"]["revenue_fen"] == str(second_paid)
    assert by_campaign[f"campaign:{article.campaign.code}"]["orders"] == "1"
    by_scene = _report(marketing, by="scene")
    assert by_scene[f"scene:{ARTICLE_SCENE}"]["orders"] == "1"
    assert by_scene[f"scene:{CODE_SCENE}"]["orders"] == "1"
    assert by_push["total"]["revenue_fen"] == str(first_paid + second_paid)

    refunded_fen = refund()

    after = _report(marketing, by="push")
    assert int(after[f"push:{push.pk}"]["revenue_fen"]) == first_paid - refunded_fen
    assert int(after["total"]["revenue_fen"]) == int(by_push["total"]["revenue_fen"]) - refunded_fen


# --- The funnel -----------------------------------------------------------------------------------------


@pytest.mark.timeout(400)
def test_an_article_card_and_a_poster_code_each_bring_a_paid_order_that_the_report_shows_under_its_source(
    browser,  # noqa: F811
    live_server,
    staff_member,  # noqa: F811
    celery_worker,
    sandbox,
    settings,
    tmp_path,
):
    settings.WECHAT_PAY_NOTIFY_URL = f"{live_server.url}/wechat/pay/notify/"
    settings.WECHAT_PAY_REFUND_NOTIFY_URL = f"{live_server.url}/wechat/pay/refund-notify/"
    mini_program = mini_program_default()
    account = account_registered(sandbox, callback_base_url=live_server.url)
    # 关联小程序: WeChat keeps an article's Mini Program cards only for a Mini Program linked to the account.
    OfficialAccount.objects.filter(pk=account.pk).update(name="Daily Tea", mini_program=mini_program)
    account.refresh_from_db()
    sandbox.add_followers(account.appid, count=FOLLOWERS)
    sku = SkuFactory(product__title="Tieguanyin", price_fen=PRICE_FEN, stock=10)
    product = sku.product
    ProductImageFactory(product=product)
    staff_member("Marketing", "mei")
    staff_member("Operations", "omar")
    marketing = StaffBrowser(browser, live_server, "mei")

    # Marketing's article with the product's card, pushed to every follower.
    article = _article_with_a_product_card(marketing, product, tmp_path)
    push = _push_scheduled_and_sent(marketing, account, article)
    card_path = _card_path_as_wechat_received_it(sandbox, account, push)
    assert card_path == f"pages/product/detail?id={product.pk}&c={article.campaign.code}"

    # A follower taps the card: the Mini Program opens on the product from the article.
    from_article = Launch.from_card(card_path)
    reader = MiniProgramClient(live_server.url, appid=mini_program.appid)
    reader_customer = reader.log_in(sandbox, from_article)
    placed = reader.buy(from_article, recipient="Li Lei")
    assert placed["source"] == from_article.source and placed["total_fen"] == PRICE_FEN
    reader.pay(sandbox, placed["order_no"])
    first = Order.objects.get(order_no=placed["order_no"])
    _notification_acknowledged(sandbox, Payment.objects.get(order=first).out_trade_no)
    assert (first.status, first.source_scene, first.campaign) == (OrderStatus.PAID, ARTICLE_SCENE, article.campaign)
    assert Customer.objects.get(pk=reader_customer["id"]).first_campaign == article.campaign

    # Marketing's poster: a campaign and its Mini Program code; a passer-by scans it.
    code, read = _poster_code(marketing, sandbox, product, tmp_path)
    assert (read["page"], read["scene"]) == (code.page, code.scene)
    from_poster = Launch.from_code(page=read["page"], scene=read["scene"])
    assert from_poster.query == {"c": "poster-autumn", "id": str(product.pk)}
    scanner = MiniProgramClient(live_server.url, appid=read["appid"])
    scanner.log_in(sandbox, from_poster)
    placed = scanner.buy(from_poster, recipient="Han Meimei")
    scanner.pay(sandbox, placed["order_no"])
    second = Order.objects.get(order_no=placed["order_no"])
    assert (second.status, second.source_scene, second.campaign) == (OrderStatus.PAID, CODE_SCENE, code.campaign)

    operations = StaffBrowser(browser, live_server, "omar")

    def refund() -> int:
        _operations_refunds_part(operations, sandbox, first, amount_fen=REFUND_FEN)
        return REFUND_FEN

    _report_phase(
        marketing, push=push, article=article, poster=code.campaign, first=first, second=second, refund=refund
    )
    assert marketing.server_errors == operations.server_errors == []
