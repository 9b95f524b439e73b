"""Article HTML reduced with nh3 to what WeChat's draft/add keeps, whatever it was pasted from.

WeChat renders article content in its own page: scripts, frames, forms, classes and ids do
nothing there (draft/add strips scripts; its stylesheet ignores our classes), and of inline
styles only the plain typographic ones show as meant. Pastes from Word bring mso-* styles,
<o:p>, <font>, conditional comments and file:// images; pastes from web pages bring classes,
layout styles and data: URLs. All of that goes; text, structure, links and images stay.
"""

import re

import nh3

ARTICLE_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "ul", "ol", "li",
    "strong", "b", "em", "i", "u", "s", "del", "sub", "sup", "span", "a", "img", "section",
}  # fmt: skip
ARTICLE_ATTRIBUTES = {
    "*": {"style"},
    "a": {"href", "title"},
    "img": {"src", "alt"},
    "ol": {"start"},
}
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


def article_content_clean(html: str) -> str:
    """`html` reduced to the tags, attributes, inline styles and URLs WeChat keeps; text always survives."""
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
    return _IMAGE_WITHOUT_SOURCE.sub("", cleaned).strip()


def article_content_is_empty(html: str) -> bool:
    """True when cleaned content has neither text nor images: nothing for a follower to read."""
    if "<img" in html:
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
