"""The article editor speaks the staff member's language, in Chromium: toolbar titles and dialogs.

django-prose-editor ships no Chinese; its dialogs read our djangojs catalog through the admin's jsi18n
script, and articles/static/articles/editor_toolbar_translation.js translates the toolbar's titles,
which the bundle writes in English (issue 16, "Chinese first").
"""

import re

import pytest

from staff.services import staff_language_set
from tests.e2e.test_admin_browser import PASSWORD, browser, staff_member  # noqa: F401
from tests.factories import ArticleFactory

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("staff_groups"),
    pytest.mark.chinese_staff,  # users keep the default language (Chinese) unless the test sets English
]

# Every title on the toolbar, the block-type menu's options, and the copy of the current block's button.
TOOLBAR_WORDS = """() => {
  const menubar = document.querySelector(".prose-menubar");
  return [
    ...[...menubar.querySelectorAll("[title]")].map((element) => element.title),
    ...[...menubar.querySelectorAll("[aria-label]")].map((element) => element.getAttribute("aria-label")),
    ...[...menubar.querySelectorAll(".prose-menubar__option > *")].map((element) => element.textContent),
  ];
}"""
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _article_editor(browser, live_server, username: str):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server.url}/admin/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form#login-form [type=submit]").click()
    expect(page.locator("form#login-form")).to_have_count(0)
    article = ArticleFactory(title="秋季品茶会", content="<p>两泡茶</p>")
    page.goto(f"{live_server.url}/admin/articles/article/{article.pk}/change/")
    expect(page.locator(".prose-menubar")).to_be_visible()
    return page


def _select_all_text(page) -> None:
    # Focus by keyboard, not a click: a click's caret may land after the key (tests/e2e/test_article_editor_browser.py).
    page.locator(".ProseMirror[contenteditable=true]").focus()
    page.keyboard.press("Control+a")


def _dialog_words(page, opened_by: str) -> list[str]:
    """The dialog's title, field labels (with their help), choices and buttons, opened by a toolbar button."""
    from playwright.sync_api import expect

    button = page.locator(".prose-menubar").get_by_role("button", name=opened_by, exact=True)
    # Enabled once the editor has taken the selection: a click before that opens nothing.
    expect(button).not_to_have_class(re.compile(r"\bdisabled\b"))
    button.click()
    dialog = page.locator("dialog.prose-editor-dialog[open]")
    expect(dialog).to_be_visible()
    words = [text.strip() for text in dialog.locator("h3, label, option, button").all_inner_texts()]
    dialog.locator("button[value=cancel]").click()
    expect(dialog).to_have_count(0)
    return words


def test_chinese_staff_read_the_editor_toolbar_and_dialogs_in_chinese(browser, live_server, staff_member):  # noqa: F811
    from playwright.sync_api import expect

    staff_member("Marketing", "mei")
    page = _article_editor(browser, live_server, "mei")
    menubar = page.locator(".prose-menubar")
    expect(menubar.get_by_role("button", name="加粗", exact=True)).to_be_visible()

    # A heading chosen from the block-type menu: its button, copied into the menu's face, in Chinese too.
    _select_all_text(page)
    menubar.locator(".prose-menubar__selected").click()
    menubar.locator(".prose-menubar__option", has_text="标题 2").click()
    expect(page.locator(".ProseMirror[contenteditable=true] h2")).to_have_text("两泡茶")
    expect(menubar.locator(".prose-menubar__selected button")).to_have_attribute("title", "标题 2")
    # An ordered list shows the list properties button.
    menubar.locator(".prose-menubar__selected").click()
    menubar.locator(".prose-menubar__option", has_text="正文").click()
    menubar.get_by_role("button", name="有序列表", exact=True).click()
    expect(menubar.get_by_role("button", name="列表设置", exact=True)).to_be_visible()

    words = page.evaluate(TOOLBAR_WORDS)
    assert len(words) > 40
    english = sorted({word for word in words if not CHINESE.search(word)})
    assert english == [], f"toolbar words left in English: {english}"

    _select_all_text(page)
    link_dialog = _dialog_words(page, "插入链接")
    assert link_dialog == ["编辑链接", "链接地址", "链接标题", "确定", "取消"]
    # The numbering styles are named by example ("1, 2, 3, ..."), in any language.
    assert _dialog_words(page, "列表设置") == [
        "列表设置", "起始编号", "编号样式", "1, 2, 3, ...", "a, b, c, ...", "A, B, C, ...", "i, ii, iii, ...",
        "I, II, III, ...", "圆点", "确定", "取消",
    ]  # fmt: skip
    assert _dialog_words(page, "编辑 HTML") == [
        "编辑 HTML", "HTML编辑器内容的 HTML。注意：编辑器只保留它支持的 HTML 标签和属性。", "整理格式", "确定", "取消",
    ]  # fmt: skip


def test_staff_who_chose_english_read_the_same_editor_in_english(browser, live_server, staff_member):  # noqa: F811
    from playwright.sync_api import expect

    staff_language_set(user=staff_member("Marketing", "mark"), language="en")
    page = _article_editor(browser, live_server, "mark")
    menubar = page.locator(".prose-menubar")
    expect(menubar.get_by_role("button", name="bold", exact=True)).to_be_visible()
    expect(menubar.get_by_role("button", name="insert link", exact=True)).to_be_visible()
    assert not any(CHINESE.search(word) for word in page.evaluate(TOOLBAR_WORDS))

    _select_all_text(page)
    assert _dialog_words(page, "insert link") == ["Edit Link", "URL", "Title", "Update", "Cancel"]
