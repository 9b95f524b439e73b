"""Marketing writes an article in the admin's rich-text editor, in Chromium: the phone preview follows.

Uses the browser fixtures of test_admin_browser.py (Debian's Chromium driven by Playwright).
"""

import re

import pytest

from articles.models import Article
from tests.articles.image_samples import encoded, noisy_photo, several_megabyte_jpeg
from tests.e2e import test_admin_browser
from tests.factories import ArticleFactory

# The browser, login and screenshot fixtures of the other admin browser tests.
browser = test_admin_browser.browser
staff_member = test_admin_browser.staff_member
screenshot_dir = test_admin_browser.screenshot_dir
_logged_in_page = test_admin_browser._logged_in_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("staff_groups")]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def test_marketing_types_in_the_editor_sees_the_preview_follow_and_inserts_a_photo(
    browser, live_server, staff_member, screenshot_dir, tmp_path
):
    from playwright.sync_api import expect

    staff_member("Marketing", "mei")
    article = ArticleFactory(title="秋季品茶会", content="<p>Old text.</p>")
    page = _logged_in_page(browser, live_server, "mei")
    page.goto(f"{live_server.url}/admin/articles/article/{article.pk}/change/")

    preview = page.frame_locator("#article-phone-preview")
    expect(preview.locator("#preview-title")).to_have_text("秋季品茶会")
    expect(preview.locator("#preview-content")).to_contain_text("Old text.")

    # Typing in the editor, with WeChat's formatting from the menu bar.
    editor = page.locator(".ProseMirror[contenteditable=true]")
    editor.click()
    page.keyboard.press("Control+a")
    page.keyboard.type("Steep the leaves twice")
    page.keyboard.press("Control+a")
    page.get_by_role("button", name="bold", exact=True).click()
    expect(preview.locator("#preview-content strong")).to_have_text("Steep the leaves twice")
    expect(preview.locator("#preview-content")).not_to_contain_text("Old text.")
    page.locator("#id_title").fill("两泡茶")
    expect(preview.locator("#preview-title")).to_have_text("两泡茶")

    # The image button: a several-MB photo goes up and appears in the editor and the preview.
    photo_path = tmp_path / "teapot.jpg"
    photo_path.write_bytes(several_megabyte_jpeg())
    _caret_to_the_end(page, editor)
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="insert image").click()
    chooser.value.set_files(photo_path)
    expect(page.locator(".wechat-image-status")).to_have_text("teapot.jpg inserted.")
    expect(editor.locator("img")).to_have_attribute("src", re.compile(r"^/media/articles/images/\w+\.jpg$"))
    expect(preview.locator("#preview-content img")).to_have_count(1)

    # An animated GIF is refused with WeChat's limit named, and nothing is inserted.
    gif_path = tmp_path / "dance.gif"
    frames = [noisy_photo(80, 80, sigma=20 + index).convert("P") for index in range(3)]
    gif_path.write_bytes(encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100))
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="insert image").click()
    chooser.value.set_files(gif_path)
    expect(page.locator(".wechat-image-status")).to_contain_text("dance.gif: This animated GIF")
    expect(page.locator(".wechat-image-status")).to_contain_text("JPG or PNG under 1 MB")
    expect(editor.locator("img")).to_have_count(1)
    page.screenshot(path=screenshot_dir / "marketing-article-editor.png", full_page=True)

    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    article.refresh_from_db()
    assert article.title == "两泡茶"
    assert re.fullmatch(
        r'<p><strong>Steep the leaves twice</strong></p><img src="/media/articles/images/\w+\.jpg" alt="">',
        article.content,
    ), article.content
    assert Article.objects.count() == 1


CARET_AT_THE_END = """(editor) => {
    const selection = window.getSelection()
    if (!selection.isCollapsed || !editor.contains(selection.anchorNode)) return false
    const after = document.createRange()
    after.setStart(selection.anchorNode, selection.anchorOffset)
    after.setEndAfter(editor.lastChild)
    return after.toString() === ""
}"""


def _caret_to_the_end(page, editor) -> None:
    """The caret at the end of the text, and still there a moment later: on focus ProseMirror puts back the
    selection it had (here the whole text, selected to make it bold), and on a loaded machine it may do so
    after a key already moved the caret; an image inserted then replaces the text."""
    editor.focus()
    for _ in range(10):
        page.keyboard.press("Control+End")
        page.wait_for_timeout(300)
        if editor.evaluate(CARET_AT_THE_END):
            return
    raise AssertionError("the caret never stayed at the end of the text")
