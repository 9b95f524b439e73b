"""WeChat's draft/add limits on an article's content as it is sent, after images are re-hosted.

新建草稿 (请求参数, content): "必须少于2万字符，且小于1M，且此处会去除JS" and only
`media/uploadimg` URLs are kept as images. Our editor's limit is on the content as staff
wrote it; each local image's address grows when it is replaced by its WeChat URL, so the
content is checked again as it will be sent. Pure rules: the send task and the admin use them.
"""

from django.utils.translation import gettext as _

from articles.models import WECHAT_CONTENT_LENGTH_LIMIT

# "少于2万字符，且小于1M": both limits are exclusive.
CONTENT_CHARACTERS_LIMIT = WECHAT_CONTENT_LENGTH_LIMIT
CONTENT_BYTES_LIMIT = 1024 * 1024
# An uploadimg URL as WeChat issues them ("http://mmbiz.qpic.cn/mmbiz_jpg/<about 90 characters>/0"),
# rounded up: what the admin takes a local image's address to become before it has been uploaded.
UPLOADIMG_URL_ESTIMATE = 130
# No uploadimg URL is shorter than this (host and path prefix, an id, "/0"): content over the limit
# with it is certainly over, so the send refuses it before uploading anything.
UPLOADIMG_URL_MIN = 64


class DraftContentTooLarge(ValueError):
    """An article's content, as it would be sent, is over WeChat's draft/add limit; says how much to cut."""


def draft_content_excess(content: str) -> tuple[int, int]:
    """(characters, bytes) over WeChat's limits: 0 where the content is within it."""
    characters = max(0, len(content) - (CONTENT_CHARACTERS_LIMIT - 1))
    size = max(0, len(content.encode()) - (CONTENT_BYTES_LIMIT - 1))
    return characters, size


def draft_content_problem(*, title: str, content: str, measured: str = "exact") -> str:
    """Staff's words for content over the limit ("" when it fits), saying how much to cut.

    `measured`: "exact" (with WeChat's URLs), "estimate" (UPLOADIMG_URL_ESTIMATE a URL) or
    "minimum" (UPLOADIMG_URL_MIN a URL: the content will be at least this long).
    """
    characters, size = draft_content_excess(content)
    if not characters and not size:
        return ""
    if characters:
        measure = _("%(count)s characters") % {"count": f"{len(content):,}"}
        cut = _("cut at least %(count)s characters") % {"count": f"{characters:,}"}
        limit = _("under %(limit)s characters") % {"limit": f"{CONTENT_CHARACTERS_LIMIT:,}"}
    else:
        measure = _("%(count)s bytes") % {"count": f"{len(content.encode()):,}"}
        cut = _("cut at least %(count)s bytes") % {"count": f"{size:,}"}
        limit = _("under 1 MB")
    if measured == "minimum":
        return _(
            "“%(title)s” will be at least %(measure)s once its images get their WeChat addresses; WeChat takes "
            "content %(limit)s: %(cut)s (fewer images or less text), then retry."
        ) % {"title": title, "measure": measure, "limit": limit, "cut": cut}
    if measured == "estimate":
        return _(
            "“%(title)s” will be about %(measure)s once its images get their WeChat addresses; WeChat takes "
            "content %(limit)s: %(cut)s (fewer images or less text) before it is sent."
        ) % {"title": title, "measure": measure, "limit": limit, "cut": cut}
    return _(
        "“%(title)s” is %(measure)s once its images have their WeChat addresses; WeChat takes content "
        "%(limit)s: %(cut)s (fewer images or less text), then retry."
    ) % {"title": title, "measure": measure, "limit": limit, "cut": cut}
