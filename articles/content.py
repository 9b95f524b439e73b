"""Article HTML reduced with nh3 to what WeChat's draft/add keeps, whatever it was pasted from.

WeChat renders article content in its own page: scripts, frames, forms, classes and ids do
nothing there (draft/add strips scripts; its stylesheet ignores our classes), and of inline
styles only the plain typographic ones show as meant. Pastes from Word bring mso-* styles,
<o:p>, <font>, conditional comments and file:// images; pastes from web pages bring classes,
layout styles and data: URLs. All of that goes; text, structure, links and images stay.

Mini Program cards and links stay in the markup WeChat's draft content takes for them ("图文消息内插入
小程序" in 草稿箱 新建草稿 draft/add, the "content" field): a card `<mp-miniprogram data-miniprogram-appid
data-miniprogram-path data-miniprogram-title data-miniprogram-imageurl></mp-miniprogram>`, a text link
`<a data-miniprogram-appid data-miniprogram-path>text</a>` and an image link (the same `a` around an
`img`). WeChat shows them only for a Mini Program linked to the account, so they are kept for our own
Mini Programs' appids only: another appid's card goes whole, another's link keeps its text (and href)
without the Mini Program, and data-miniprogram-* on any other tag goes.
"""

import html as html_entities
import re
from urllib.parse import parse_qsl, quote

import nh3
from django.utils.translation import gettext

ARTICLE_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li",
    "strong", "b", "em", "i", "u", "s", "del", "sub", "sup", "span", "a", "img", "section",
    "mp-miniprogram",
}  # fmt: skip
MINI_PROGRAM_LINK_ATTRIBUTES = {"data-miniprogram-appid", "data-miniprogram-path"}
MINI_PROGRAM_CARD_ATTRIBUTES = MINI_PROGRAM_LINK_ATTRIBUTES | {"data-miniprogram-title", "data-miniprogram-imageurl"}
ARTICLE_ATTRIBUTES = {
    "*": {"style"},
    "a": {"href", "title", *MINI_PROGRAM_LINK_ATTRIBUTES},
    "img": {"src", "alt"},
    "ol": {"start"},
    "mp-miniprogram": MINI_PROGRAM_CARD_ATTRIBUTES,
}
# A Mini Program page as its app.json lists it, with an optional query: pages/product/detail?id=12&c=a3.
MINI_PROGRAM_PATH = re.compile(r"[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-]+)*(?:\?[A-Za-z0-9_\-.~!$'()*+,;=:@/?%&]*)?")
_CARD = re.compile(r"<mp-miniprogram\b([^>]*)>.*?</mp-miniprogram>", re.DOTALL)
_LINK_START = re.compile(r"<a\b([^>]*)>")
_ATTRIBUTE = re.compile(r'\s([\w-]+)="([^"]*)"')
_MINI_PROGRAM_ATTRIBUTE = re.compile(r'\sdata-miniprogram-[\w-]+="[^"]*"')
_MINI_PROGRAM_PATH_ATTRIBUTE = re.compile(r'(\sdata-miniprogram-path=")([^"]*)(")')
CAMPAIGN_QUERY_NAME = "c"
# Links open in WeChat's browser; images are fetched by our send task and re-hosted at WeChat.
URL_SCHEMES = {"http", "https"}
# Removed with everything inside them, not just unwrapped.
CONTENT_DROPPED_TAGS = {
    "script", "style", "template", "iframe", "object", "noscript", "svg", "math", "title", "xml",
    "form", "button", "select", "textarea",
}  # fmt: skip

# Inline styles WeChat's article page shows as meant, each with the values it accepts.
_COLOR = re.compile(r"#[0-9a-f]{3}(?:[0-9a-f]{3})?|rgba?\(\s*[\d.\s,%]+\)|[a-z]{3,20}")
_FONT_SIZE_PX = re.compile(r"(\d{1,2}(?:\.\d+)?)px")
FONT_SIZE_MIN_PX, FONT_SIZE_MAX_PX = 12, 32
STYLE_VALUES = {
    "text-align": lambda value: value in {"left", "center", "right", "justify"},
    "color": lambda value: _COLOR.fullmatch(value) is not None,
    "background-color": lambda value: _COLOR.fullmatch(value) is not None,
    # In px only: Word's pt sizes are its body text, which WeChat sets itself.
    "font-size": lambda value: (
        (size := _FONT_SIZE_PX.fullmatch(value)) is not None
        and FONT_SIZE_MIN_PX <= float(size.group(1)) <= FONT_SIZE_MAX_PX
    ),
    "font-weight": lambda value: value in {"bold", "normal", "400", "500", "600", "700"},
    "font-style": lambda value: value in {"italic", "normal"},
    "text-decoration": lambda value: value in {"underline", "line-through", "none"},
}

# Word's "downlevel-revealed" conditionals show their content to browsers. Its hand-made list
# bullets (<![if !supportLists]>·&nbsp;<![endif]>) go with their content, since the text is
# kept as paragraphs; other conditionals (<![if !vml]><img ...><![endif]>) keep theirs.
_WORD_LIST_BULLET = re.compile(r"<!\[if !supportLists\]>.*?<!\[endif\]>", re.IGNORECASE | re.DOTALL)
_WORD_CONDITIONAL_MARKER = re.compile(r"<!\[(?:if [^\]]*|endif)\]>", re.IGNORECASE)
# nh3 keeps an <img> whose only URL it removed (file://, data:): an image WeChat cannot show.
_IMAGE_WITHOUT_SOURCE = re.compile(r"<img(?![^>]*\ssrc=)[^>]*>")


def article_content_clean(html: str, *, mini_program_appids: frozenset[str] = frozenset()) -> str:
    """`html` reduced to the tags, attributes, inline styles and URLs WeChat keeps; text always survives.

    Mini Program cards and links are kept for `mini_program_appids` only (ours, linked to the account).
    """
    html = _WORD_CONDITIONAL_MARKER.sub("", _WORD_LIST_BULLET.sub("", html))
    cleaned = nh3.clean(
        html,
        tags=ARTICLE_TAGS,
        clean_content_tags=CONTENT_DROPPED_TAGS,
        attributes=ARTICLE_ATTRIBUTES,
        attribute_filter=_attribute_kept,
        url_schemes=URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
    )
    cleaned = _mini_program_markup_kept(cleaned, appids=mini_program_appids)
    return _IMAGE_WITHOUT_SOURCE.sub("", cleaned).strip()


def _mini_program_markup_kept(html: str, *, appids: frozenset[str]) -> str:
    # nh3 has written every attribute as name="value" (values escaped): read them back as such.
    def card(match: re.Match) -> str:
        attributes = dict(_ATTRIBUTE.findall(match.group(1)))
        image_url = html_entities.unescape(attributes.get("data-miniprogram-imageurl", ""))
        if not _mini_program_target_is_ours(attributes, appids) or not image_url.startswith(("https://", "http://")):
            return ""
        return match.group(0)

    def link(match: re.Match) -> str:
        attributes = dict(_ATTRIBUTE.findall(match.group(1)))
        if "data-miniprogram-appid" not in attributes and "data-miniprogram-path" not in attributes:
            return match.group(0)
        if _mini_program_target_is_ours(attributes, appids):
            return match.group(0)
        return _MINI_PROGRAM_ATTRIBUTE.sub("", match.group(0))

    return _LINK_START.sub(link, _CARD.sub(card, html))


def _mini_program_target_is_ours(attributes: dict[str, str], appids: frozenset[str]) -> bool:
    appid = html_entities.unescape(attributes.get("data-miniprogram-appid", ""))
    path = html_entities.unescape(attributes.get("data-miniprogram-path", ""))
    return appid in appids and MINI_PROGRAM_PATH.fullmatch(path) is not None


_CARD_ATTRIBUTES_OF = re.compile(r"<mp-miniprogram\b([^>]*)>")


def article_content_for_phone(html: str) -> str:
    """Cleaned `html` with each Mini Program card drawn as WeChat shows it (title, picture, "Mini Program").

    For the phone previews: browsers know no <mp-miniprogram>, WeChat draws it from its attributes.
    The values stay escaped as the cleaner left them.
    """

    def drawn(match: re.Match) -> str:
        attributes = dict(_ATTRIBUTE.findall(_CARD_ATTRIBUTES_OF.match(match.group(0)).group(1)))
        return (
            '<section class="mini-program-card">'
            f'<p class="mini-program-card__title">{attributes.get("data-miniprogram-title", "")}</p>'
            f'<img class="mini-program-card__image" src="{attributes.get("data-miniprogram-imageurl", "")}" alt="">'
            f'<p class="mini-program-card__label">{html_entities.escape(gettext("Mini Program"))}</p>'
            "</section>"
        )

    return _CARD.sub(drawn, html)


def article_mini_program_campaign_set(html: str, *, campaign_code: str) -> str:
    """Cleaned `html` with every Mini Program path's query carrying c=<campaign_code> (replacing another c)."""

    def with_campaign(match: re.Match) -> str:
        page, _, query = html_entities.unescape(match.group(2)).partition("?")
        pairs = [
            (name, value) for name, value in parse_qsl(query, keep_blank_values=True) if name != CAMPAIGN_QUERY_NAME
        ]
        pairs.append((CAMPAIGN_QUERY_NAME, campaign_code))
        query = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in pairs)
        return f"{match.group(1)}{html_entities.escape(f'{page}?{query}')}{match.group(3)}"

    return _MINI_PROGRAM_PATH_ATTRIBUTE.sub(with_campaign, html)


def article_content_is_empty(html: str) -> bool:
    """True when cleaned content has neither text nor images: nothing for a follower to read."""
    if "<img" in html or "<mp-miniprogram" in html:
        return False
    text = nh3.clean(html, tags=set())
    return not text.replace("&nbsp;", "").strip()


def _attribute_kept(tag: str, attribute: str, value: str) -> str | None:
    if attribute == "style":
        return _style_kept(value)
    return value


def _style_kept(style: str) -> str | None:
    kept = []
    for declaration in style.split(";"):
        name, _, value = declaration.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        accepts = STYLE_VALUES.get(name)
        if accepts is not None and accepts(value):
            kept.append(f"{name}: {value}")
    return "; ".join(kept) or None
