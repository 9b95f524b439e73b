"""Article HTML cleaned to what WeChat's draft/add keeps: pastes from Word and web pages keep text and images."""

from pathlib import Path

import pytest

from articles.content import article_content_clean, article_content_is_empty, article_mini_program_campaign_set

SAMPLES = Path(__file__).parent / "paste_samples"


@pytest.fixture(scope="module")
def word_paste() -> str:
    return article_content_clean((SAMPLES / "word.html").read_text())


@pytest.fixture(scope="module")
def web_paste() -> str:
    return article_content_clean((SAMPLES / "web.html").read_text())


def test_a_word_paste_keeps_its_text_headings_and_emphasis(word_paste):
    for text in (
        "Autumn tea tasting",
        "秋季品茶会",
        "本周六下午两点，欢迎光临",
        "We pour three <i>oolongs</i> and one <u>pu-erh</u>.",
        "<p><span>Tieguanyin from Anxi</span></p>",
        "Da Hong Pao from Wuyi",
        "<p>Book a seat at the counter.</p>",
        "Photo: the shop",
    ):
        assert text in word_paste
    assert word_paste.startswith("<h1>")
    assert "<b>" in word_paste


def test_a_word_paste_keeps_its_web_image_and_drops_the_one_on_the_authors_disk(word_paste):
    assert '<img src="https://cdn.example.com/tea/teapot.jpg" alt="Yixing teapot">' in word_paste
    assert word_paste.count("<img") == 1
    assert "file:" not in word_paste


def test_a_word_paste_keeps_the_styles_wechat_shows_and_drops_words_own(word_paste):
    assert '<p style="text-align: center"><b><span style="font-size: 16px; color: #c00000">' in word_paste
    assert '<span style="color: #1f3864">' in word_paste
    for junk in (
        "mso-",
        "Mso",
        "class=",
        "lang=",
        "<o:p",
        "o:p>",
        "<font",
        "<v:",
        "v:shapes",
        "<!--",
        "<![",
        "<xml",
        "DocumentProperties",
        "Mei Lin",
        "Style Definitions",
        "font-family",
        "12.0pt",
        "text-indent",
        "width=",
        "·",
        "Times New Roman",
    ):
        assert junk not in word_paste, junk


def test_a_web_paste_keeps_text_structure_links_and_images(web_paste):
    assert '<h2 style="font-size: 24px; color: rgb(17, 17, 17); font-weight: 700">How to brew oolong</h2>' in web_paste
    assert 'steep for <strong style="font-weight: 600">twenty seconds</strong>; add <em>ten</em> seconds' in web_paste
    assert (
        '<img src="https://images.example.org/uploads/2026/10/oolong-leaves-1024x683.jpg" alt="Rolled oolong leaves">'
        in web_paste
    )
    assert "<blockquote" in web_paste and "Good tea needs patience." in web_paste
    assert "<ul><li>Water at 95&nbsp;°C</li><li>A " in web_paste
    assert '<a href="https://shop.example.com/gaiwan?utm_source=blog">gaiwan</a>' in web_paste
    assert "<hr>" in web_paste
    assert '<span style="background-color: rgb(255, 240, 160); color: rgb(34, 34, 34)">Steep times' in web_paste


def test_a_web_paste_loses_scripts_frames_forms_classes_and_layout_styles(web_paste):
    for junk in (
        "<script",
        "ads.example.net",
        "<iframe",
        "advertisement",
        "<form",
        "evil.example",
        "Subscribe",
        "<input",
        "<style",
        "color: red",
        "class=",
        "id=",
        "data-",
        "srcset",
        "loading=",
        "onload",
        "onclick",
        "target=",
        "rel=",
        "data:image",
        "position",
        "z-index",
        "javascript:",
        "expression",
        "200px",
        "max-width",
        "line-height",
        "letter-spacing",
        "margin",
        "border",
        "<div",
        "<figure",
    ):
        assert junk not in web_paste, junk
    # The tracking pixel (a data: URL) is gone entirely, not left as an empty <img>.
    assert web_paste.count("<img") == 1
    assert "Share this article" in web_paste


@pytest.mark.parametrize(
    ("style", "kept"),
    [
        ("text-align: center", "text-align: center"),
        ("TEXT-ALIGN:Right", "text-align: right"),
        ("text-align: -webkit-center", None),
        ("color: #abc", "color: #abc"),
        ("color: rgba(1, 2, 3, 0.5)", "color: rgba(1, 2, 3, 0.5)"),
        ("color: url(http://x)", None),
        ("font-size: 12px", "font-size: 12px"),
        ("font-size: 32px", "font-size: 32px"),
        ("font-size: 11px", None),
        ("font-size: 33px", None),
        ("font-size: 10.5pt", None),
        ("font-size: 1.2em", None),
        ("mso-bidi-font-family: Arial; font-weight: bold", "font-weight: bold"),
        ("background: url(javascript:alert(1))", None),
    ],
)
def test_inline_styles_are_limited_to_what_wechat_shows(style, kept):
    cleaned = article_content_clean(f'<p style="{style}">x</p>')

    assert cleaned == (f'<p style="{kept}">x</p>' if kept else "<p>x</p>")


def test_uploaded_images_with_paths_on_our_site_are_kept():
    html = '<p><img src="/media/articles/images/5f0c.jpg" alt=""></p>'

    assert article_content_clean(html) == html


def test_what_the_editor_makes_survives_unchanged():
    html = (
        '<h2 style="text-align: center">Title</h2><p>A <strong>b</strong> <em>i</em> <u>u</u> <s>s</s> '
        '<a href="https://mp.weixin.qq.com/s/abc">link</a></p><ul><li><p>one</p></li></ul>'
        '<ol start="3"><li><p>three</p></li></ol><blockquote><p>quote</p></blockquote><hr>'
        '<img src="/media/articles/images/a.png" alt="a"><p><span style="color: #ff0000; font-size: 18px">red</span>'
        "<br></p>"
    )

    assert article_content_clean(html) == html


def test_cleaning_twice_changes_nothing(word_paste, web_paste):
    for cleaned in (word_paste, web_paste):
        assert article_content_clean(cleaned) == cleaned


def test_event_handlers_and_script_urls_never_survive():
    cleaned = article_content_clean(
        '<img src="x.jpg" onerror="alert(1)"><a href="javascript:alert(1)">a</a><svg onload="alert(1)"></svg>'
        '<a href="JaVaScRiPt:alert(1)">b</a><img src="vbscript:x"><object data="x.swf"></object>'
    )

    assert cleaned == '<img src="x.jpg"><a>a</a><a>b</a>'


def test_content_with_neither_text_nor_images_is_empty():
    assert article_content_is_empty(article_content_clean("<p>&nbsp;</p><p><br></p><script>x</script>"))
    assert not article_content_is_empty("<p>x</p>")
    assert not article_content_is_empty('<img src="/media/a.jpg">')


# Mini Program cards and links ("图文消息内插入小程序", draft/add content): ours kept, others removed.
OURS, THEIRS = "wx2421b1c4370ec43b", "wx0000000000000bad"
CARD = (
    '<mp-miniprogram data-miniprogram-appid="{appid}" data-miniprogram-path="pages/product/detail?id=12" '
    'data-miniprogram-title="Tieguanyin" data-miniprogram-imageurl="https://shop.example.com/media/tea.jpg">'
    "</mp-miniprogram>"
)


def test_the_cleaner_keeps_a_card_for_our_mini_program_exactly():
    cleaned = article_content_clean(f"<p>Buy it:</p>{CARD.format(appid=OURS)}", mini_program_appids=frozenset({OURS}))

    assert cleaned == f"<p>Buy it:</p>{CARD.format(appid=OURS)}"
    assert article_content_is_empty(CARD.format(appid=OURS)) is False


def test_the_cleaner_removes_a_card_for_another_appid_and_every_card_when_none_is_ours():
    html = f"<p>Buy it:</p>{CARD.format(appid=THEIRS)}"

    assert article_content_clean(html, mini_program_appids=frozenset({OURS})) == "<p>Buy it:</p>"
    assert article_content_clean(CARD.format(appid=OURS)) == ""


def test_the_cleaner_drops_a_card_whose_path_or_image_wechat_could_not_use():
    bad_path = CARD.format(appid=OURS).replace("pages/product/detail?id=12", "/pages/product/detail")
    bad_image = CARD.format(appid=OURS).replace("https://shop.example.com/media/tea.jpg", "javascript:alert(1)")

    for html in (bad_path, bad_image):
        assert article_content_clean(html, mini_program_appids=frozenset({OURS})) == ""


def test_the_cleaner_keeps_our_text_and_image_links_and_unlinks_another_appids_keeping_its_text():
    ours = f'<p><a data-miniprogram-appid="{OURS}" data-miniprogram-path="pages/index/index">Shop</a></p>'
    image = (
        f'<p><a data-miniprogram-appid="{OURS}" data-miniprogram-path="pages/index/index">'
        '<img src="https://shop.example.com/media/banner.jpg" alt=""></a></p>'
    )
    theirs = (
        f'<p><a href="https://example.com/" data-miniprogram-appid="{THEIRS}" '
        'data-miniprogram-path="pages/index/index">Elsewhere</a></p>'
    )
    appids = frozenset({OURS})

    assert article_content_clean(ours, mini_program_appids=appids) == ours
    assert article_content_clean(image, mini_program_appids=appids) == image
    assert (
        article_content_clean(theirs, mini_program_appids=appids)
        == '<p><a href="https://example.com/">Elsewhere</a></p>'
    )


def test_the_cleaner_removes_data_miniprogram_attributes_from_any_other_tag():
    html = (
        f'<p data-miniprogram-appid="{OURS}" data-miniprogram-path="pages/index/index">Text</p>'
        f'<img src="https://shop.example.com/a.jpg" data-miniprogram-appid="{OURS}" alt="">'
        f'<span data-miniprogram-title="x">more</span>'
    )

    cleaned = article_content_clean(html, mini_program_appids=frozenset({OURS}))

    assert "data-miniprogram" not in cleaned
    assert cleaned == '<p>Text</p><img src="https://shop.example.com/a.jpg" alt=""><span>more</span>'


def test_every_mini_program_path_carries_the_campaign_code_once():
    html = article_content_clean(
        CARD.format(appid=OURS).replace("?id=12", "?id=12&amp;c=old")
        + f'<a data-miniprogram-appid="{OURS}" data-miniprogram-path="pages/index/index">Shop</a>',
        mini_program_appids=frozenset({OURS}),
    )

    tagged = article_mini_program_campaign_set(html, campaign_code="a7")

    assert 'data-miniprogram-path="pages/product/detail?id=12&amp;c=a7"' in tagged
    assert 'data-miniprogram-path="pages/index/index?c=a7"' in tagged
    assert article_mini_program_campaign_set(tagged, campaign_code="a7") == tagged
