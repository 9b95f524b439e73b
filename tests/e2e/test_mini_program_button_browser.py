"""The article editor's Mini Program button in Chromium: a product card inserted, saved with its campaign."""

import pytest

from articles.models import Article
from tests.e2e import test_admin_browser
from tests.factories import ArticleFactory, OfficialAccountFactory, ProductFactory, ProductImageFactory
from wechat.merchants import mini_program_default

browser = test_admin_browser.browser
staff_member = test_admin_browser.staff_member
screenshot_dir = test_admin_browser.screenshot_dir
_logged_in_page = test_admin_browser._logged_in_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("staff_groups")]

BUTTON = ".prose-menubar [title='Mini Program card or link']"
# The button asks the admin for its choices first; on a loaded machine that takes more than expect's 5 s.
WAIT_MS = 30_000


def test_marketing_inserts_a_product_card_and_saves_it_with_the_articles_campaign(
    browser, live_server, staff_member, screenshot_dir
):
    from playwright.sync_api import expect

    mini_program = mini_program_default()
    OfficialAccountFactory(mini_program=mini_program)
    product = ProductFactory(title="Tieguanyin")
    ProductImageFactory(product=product)
    article = ArticleFactory(title="秋季品茶会", content="<p>Old text.</p>")
    staff_member("Marketing", "mei")
    page = _logged_in_page(browser, live_server, "mei")
    page.goto(f"{live_server.url}/admin/articles/article/{article.pk}/change/", wait_until="networkidle")

    with page.expect_response(lambda response: "mini-program-targets" in response.url, timeout=WAIT_MS) as targets:
        page.locator(BUTTON).click()
    assert targets.value.status == 200, targets.value.text()
    dialog = page.locator("dialog.wechat-mini-program-dialog")
    expect(dialog).to_be_visible(timeout=WAIT_MS)
    dialog.locator("select[name=product]").select_option(str(product.pk))
    dialog.screenshot(path=screenshot_dir / "article-editor-mini-program-dialog.png")
    dialog.locator("button[value=insert]").click()
    expect(page.locator(".ProseMirror .wechat-mini-program-card")).to_contain_text("Tieguanyin", timeout=WAIT_MS)
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully", timeout=WAIT_MS)

    content = Article.objects.get(pk=article.pk).content
    assert "<mp-miniprogram" in content
    assert f'data-miniprogram-appid="{mini_program.appid}"' in content
    assert f'data-miniprogram-path="pages/product/detail?id={product.pk}&amp;c=a{article.pk}"' in content
    assert 'data-miniprogram-title="Tieguanyin"' in content


def test_without_a_linked_mini_program_the_button_says_so(browser, live_server, staff_member):
    from playwright.sync_api import expect

    article = ArticleFactory(content="<p>Old text.</p>")
    staff_member("Marketing", "mei")
    page = _logged_in_page(browser, live_server, "mei")
    page.goto(f"{live_server.url}/admin/articles/article/{article.pk}/change/", wait_until="networkidle")

    page.locator(BUTTON).click()

    expect(page.locator(".wechat-mini-program-status")).to_contain_text("No Mini Program is linked", timeout=WAIT_MS)
    expect(page.locator("dialog.wechat-mini-program-dialog")).to_have_count(0)


def test_a_failed_load_of_the_choices_is_said_not_left_silent(browser, live_server, staff_member):
    from playwright.sync_api import expect

    article = ArticleFactory(content="<p>Old text.</p>")
    staff_member("Marketing", "mei")
    page = _logged_in_page(browser, live_server, "mei")
    page.goto(f"{live_server.url}/admin/articles/article/{article.pk}/change/", wait_until="networkidle")
    # The connection drops as it would on a phone hotspot: the browser's own network failure, our server untouched.
    page.route("**/mini-program-targets/**", lambda route: route.abort("connectionreset"))

    page.locator(BUTTON).click()

    expect(page.locator(".wechat-mini-program-status")).to_contain_text("could not be loaded", timeout=WAIT_MS)
