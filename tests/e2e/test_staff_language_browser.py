"""Staff read the admin in Chinese and switch to English (and back) in the user menu, in a real browser."""

import re

import pytest

from tests.e2e.test_admin_browser import PASSWORD, browser, screenshot_dir, staff_member  # noqa: F401

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups"),
    pytest.mark.chinese_staff,  # the user keeps the default language until they switch
]


def _scrolls_sideways(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth")


def test_staff_switch_between_chinese_and_english_in_the_user_menu(
    browser,  # noqa: F811
    live_server,
    staff_member,  # noqa: F811
    screenshot_dir,  # noqa: F811
):
    from playwright.sync_api import expect

    staff_member("Operations", "lin")
    page = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-US").new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/admin/")
    # An English browser still gets the Chinese login page: staff choose their language in the admin.
    expect(page.locator("form#login-form [type=submit]")).to_contain_text("登录")
    page.locator("input[name=username]").fill("lin")
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form#login-form [type=submit]").click()
    expect(page.get_by_role("heading", name="公众号与小程序")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    assert not _scrolls_sideways(page)
    page.screenshot(path=screenshot_dir / "staff-language-chinese.png")

    page.get_by_text("lin", exact=True).click()  # the user menu
    english = page.get_by_role("button", name=re.compile("English"))
    expect(english).to_be_visible()
    assert not _scrolls_sideways(page)
    page.screenshot(path=screenshot_dir / "staff-language-menu.png")
    english.click()

    expect(page.get_by_role("heading", name="Official Account and Mini Program")).to_be_visible()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto(f"{live_server.url}/admin/orders/order/")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # kept from page to page
    assert not _scrolls_sideways(page)

    page.get_by_text("lin", exact=True).click()
    page.get_by_role("button", name=re.compile("简体中文")).click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page).to_have_url(re.compile("/admin/orders/order/$"))  # back on the page it was switched from
