"""The article editor's toolbar in Chromium under the admin's theme: every mark it draws has a glyph.

The block-type menu (the toolbar's first button) drew its "⏷" in the theme's fonts, none of which
has that character: Chromium showed an empty box. The check draws each character the toolbar shows
(text and ::before/::after content, icon-font ligatures aside) on a canvas in the element's own
fonts, and compares it with a character no font has: the same pixels mean an empty box.
"""

import pytest

from tests.e2e import test_admin_browser
from tests.factories import ArticleFactory

browser = test_admin_browser.browser
staff_member = test_admin_browser.staff_member
screenshot_dir = test_admin_browser.screenshot_dir
_logged_in_page = test_admin_browser._logged_in_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("staff_groups")]

CHARACTERS_WITHOUT_GLYPH = """() => {
  // U+0378 is unassigned: every font lacks it, so it is drawn as the empty box.
  const draw = (text, font) => {
    const canvas = document.createElement("canvas");
    canvas.width = 48; canvas.height = 48;
    const context = canvas.getContext("2d");
    context.font = font;
    context.fillText(text, 8, 34);
    return context.getImageData(0, 0, 48, 48).data.join(",");
  };
  const missing = [];
  const check = (element, text, style, where) => {
    if (style.fontFamily.includes("Material Icons")) return;  // ligature names, drawn as icons
    const font = `${style.fontSize} ${style.fontFamily}`;
    const emptyBox = draw("\\u0378", font);
    for (const character of text.trim()) {
      if (character.trim() && draw(character, font) === emptyBox) {
        const codePoint = character.codePointAt(0).toString(16).toUpperCase();
        missing.push(`${where} of ${element.className || element.tagName}: U+${codePoint}`);
      }
    }
  };
  const menubar = document.querySelector(".prose-menubar");
  for (const element of [menubar, ...menubar.querySelectorAll("*")]) {
    if (!element.getClientRects().length) continue;  // closed menus are not drawn
    const own = [...element.childNodes]
      .filter((node) => node.nodeType === Node.TEXT_NODE)
      .map((node) => node.data)
      .join("");
    check(element, own, getComputedStyle(element), "text");
    for (const pseudo of ["::before", "::after"]) {
      const style = getComputedStyle(element, pseudo);
      const content = style.content;
      if (content && content.startsWith('"')) check(element, JSON.parse(content), style, pseudo);
    }
  }
  return missing;
}"""


def test_every_mark_on_the_editor_toolbar_has_a_glyph(browser, live_server, staff_member, screenshot_dir):
    from playwright.sync_api import expect

    staff_member("Marketing", "mei")
    article = ArticleFactory(title="秋季品茶会", content="<p>Old text.</p>")
    page = _logged_in_page(browser, live_server, "mei")
    page.goto(f"{live_server.url}/admin/articles/article/{article.pk}/change/")
    first_button = page.locator(".prose-menubar .prose-menubar__selected").first
    expect(first_button).to_be_visible()
    page.evaluate("document.fonts.ready")

    assert page.evaluate(CHARACTERS_WITHOUT_GLYPH) == []
    # The menu's mark is still there, drawn: a visible triangle beside the block-type icon.
    arrow = first_button.evaluate(
        "element => { const style = getComputedStyle(element, '::after');"
        " return [style.display, style.borderTopWidth, style.borderTopColor]; }"
    )
    assert arrow[0] != "none" and arrow[1] != "0px" and arrow[2] not in ("transparent", "rgba(0, 0, 0, 0)")
    first_button.screenshot(path=screenshot_dir / "article-editor-toolbar-first-button.png")
