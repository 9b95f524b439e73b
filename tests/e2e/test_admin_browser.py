"""Staff use the admin in a real browser: Debian's Chromium driven by Playwright.

Without Chromium or Playwright these tests skip, except under CI=true, where they fail.
"""

import importlib
import importlib.util
import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import connections

from catalog.models import Sku
from tests.factories import CategoryFactory
from tests.real_services import require

CHROMIUM_PATH = os.environ.get("E2E_CHROMIUM_PATH", "/usr/bin/chromium")
# Offline and in a container: no sandbox (we run as root), no GPU, nothing phoning home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "browser-test-password"

# The live server reads what the test writes, so the test cannot hide its rows in a transaction.
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("staff_groups")]


@pytest.fixture
def browser(monkeypatch):
    require(importlib.util.find_spec("playwright") is not None, "Playwright for Python")
    require(Path(CHROMIUM_PATH).is_file(), f"Chromium at {CHROMIUM_PATH}")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an asyncio event loop on this thread, so Django takes
    # every ORM call the test makes for a call from async code and refuses it. The test
    # body is plain synchronous code and the live server answers on its own thread, so
    # the check only gets in the way here; monkeypatch keeps the opt-out to these tests.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        # Under Playwright the test runs in another contextvars context, and Django keeps
        # a connection per context: close the one opened there, or PostgreSQL refuses
        # to drop the test database at the end of the run.
        connections.close_all()


@pytest.fixture
def screenshot_dir() -> Path:
    directory = Path(settings.VAR_DIR) / "e2e"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def staff_member(django_user_model):
    def member_of(group_name: str, username: str):
        user = django_user_model.objects.create_user(username=username, password=PASSWORD, is_staff=True)
        user.groups.add(Group.objects.get(name=group_name))
        return user

    return member_of


def _logged_in_page(browser, live_server, username: str):
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/admin/")
    # The login page is in the site's language (Chinese): find its fields by name, not by label.
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form#login-form [type=submit]").click()
    expect(page.get_by_role("heading", name="Official Account and Mini Program")).to_be_visible()
    return page


def test_operations_adds_a_product_with_a_sku_priced_in_yuan(browser, live_server, staff_member, screenshot_dir):
    from playwright.sync_api import expect

    staff_member("Operations", "olivia")
    CategoryFactory(name="Tea ware", slug="tea-ware")
    page = _logged_in_page(browser, live_server, "olivia")

    page.locator("#nav-sidebar li.model-product").get_by_role("link").click()
    page.get_by_role("link", name="Add product").click()
    page.get_by_label("Category").select_option(label="Tea ware")
    page.locator("#id_title").fill("Celadon tea cup")
    # Specs as a dimension and its value chip (catalog/static/catalog/spec_matrix_editor.js), not JSON.
    page.get_by_role("button", name="Add a dimension").click()
    page.locator(".spec-dimension-name").fill("color")
    page.locator(".spec-dimension-name").press("Tab")
    page.locator(".spec-value-new").fill("celadon")
    page.locator(".spec-value-new").press("Enter")
    page.locator("#id_matrix-0-code").fill("CUP-CELADON")
    page.locator("#id_matrix-0-price").fill("39.90")
    page.locator("#id_matrix-0-stock").fill("25")
    page.screenshot(path=screenshot_dir / "operations-product-form.png", full_page=True)
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    row = page.locator("#result_list tbody tr", has_text="Celadon tea cup")
    expect(row.locator(".field-price_range")).to_have_text("¥39.90")
    expect(row.locator(".field-total_stock")).to_have_text("25")
    page.screenshot(path=screenshot_dir / "operations-products.png", full_page=True)
    sku = Sku.objects.get(code="CUP-CELADON")
    assert (sku.price_fen, sku.stock, sku.specs) == (3990, 25, {"color": "celadon"})


def test_marketing_reads_products_but_cannot_add_them_and_opens_articles(
    browser, live_server, staff_member, screenshot_dir
):
    from playwright.sync_api import expect

    staff_member("Marketing", "mei")
    page = _logged_in_page(browser, live_server, "mei")

    page.goto(f"{live_server.url}/admin/catalog/product/")
    expect(page).to_have_title(re.compile(r"^\s*Select product to view"))
    expect(page.get_by_role("link", name="Add product")).to_have_count(0)
    assert page.goto(f"{live_server.url}/admin/catalog/product/add/").status == 403

    page.goto(f"{live_server.url}/admin/")
    page.locator("#nav-sidebar li.model-article").get_by_role("link").click()
    expect(page).to_have_title(re.compile(r"^\s*Select article to change"))
    expect(page.get_by_role("link", name="Add article")).to_be_visible()
    page.screenshot(path=screenshot_dir / "marketing-articles.png", full_page=True)
