"""An Official Account's material and articles: media/uploadimg, material/add_material, draft/add|get, freepublish.

Follows 公众号文档 "上传图文消息图片 uploadImage", "上传永久素材 addMaterial" (formats and
sizes), "草稿箱 / 新建草稿" (field limits; images not from uploadimg are dropped, scripts
stripped) and "发布能力 / 发布接口" (freepublish/submit, freepublish/get and the
PUBLISHJOBFINISH event). Uploaded bytes are checked and then dropped: the sandbox
remembers what it handed out (media ids and URLs), never the images.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
from dataclasses import asdict, dataclass, field
from html import escape
from html.parser import HTMLParser
from typing import TYPE_CHECKING

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, WeChatErrcode
from wechat_sandbox.official_account_push import push_to_official_account
from wechat_sandbox.protocols import json_response
from wechat_sandbox.routes import Route, json_body_of
from wechat_sandbox.state import snapshot_part
from wechat_sandbox.tokens import authenticated_app
from wechat_sandbox.wechat_apps import OFFICIAL_ACCOUNT

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox, SandboxApp

KB = 1024
MB = 1024 * KB
# 上传图文消息图片 (注意事项): jpg/png only, "大小必须在1MB以下".
INLINE_IMAGE_FORMATS = ("jpg", "png")
INLINE_IMAGE_MAX_BYTES = MB - 1
# 上传永久素材 (注意事项): 图片(image) 10M, bmp/png/jpeg/jpg/gif; 缩略图(thumb) 64KB, JPG.
PERMANENT_FORMATS = {"image": ("bmp", "png", "jpg", "gif"), "thumb": ("jpg",)}
PERMANENT_MAX_BYTES = {"image": 10 * MB, "thumb": 64 * KB}
# WeChat refuses an image over its size with 40009 "invalid image size" (uploadImage, 错误码);
# a thumb over 64 KB with 40006 "invalid media size" (全局返回码说明: 不合法的文件大小).
OVERSIZE_ERRCODE = {"image": 40009, "thumb": 40006}
# Both upload routes take bodies up to the largest image WeChat takes (10 MB) plus room for
# multipart framing, so an oversized image is judged as WeChat judges it (40009: uploadimg
# answers it to an 8 MB image too) rather than refused as a body over the route's limit (45002).
UPLOAD_MAX_BODY_BYTES = 10 * MB + 64 * KB
# 新建草稿 (请求参数): 1-8 articles; title ≤ 32 characters, author ≤ 16, digest ≤ 128,
# content under 20,000 characters and under 1 MB (which 20,000 characters never reach),
# content_source_url ≤ 1 KB.
MAX_ARTICLES = 8
TITLE_MAX_CHARACTERS = 32
AUTHOR_MAX_CHARACTERS = 16
DIGEST_MAX_CHARACTERS = 128
CONTENT_MAX_CHARACTERS = 20_000
CONTENT_MAX_BYTES = MB
SOURCE_URL_MAX_BYTES = KB
# 新建草稿 (digest): left empty, it is "the first 54 characters of the content".
DEFAULT_DIGEST_CHARACTERS = 54
IMAGE_HOST = "mmbiz.qpic.cn"
PUBLISHED, PUBLISHING, MAX_PUBLISH_STATUS = 0, 1, 6
# The publish job runs a moment before WeChat reports on it: the answer with publish_id comes first.
PUBLISH_JOB_SECONDS = 1.0


def image_format(data: bytes) -> str | None:
    """The image's real format from its magic number (not its name or Content-Type), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    return None


def article_urls(appid: str, *, mid: int, count: int) -> list[str]:
    """Published articles' permanent links, one per article, shaped as WeChat's (mp.weixin.qq.com/s?__biz=...)."""
    biz = base64.b64encode(str(int(hashlib.sha256(appid.encode()).hexdigest()[:8], 16)).encode()).decode()
    return [f"https://mp.weixin.qq.com/s?__biz={biz}&mid={mid}&idx={index}" for index in range(1, count + 1)]


def _without_scheme_and_query(url: str) -> str:
    return url.split("://", 1)[-1].split("?", 1)[0]


@dataclass
class Material:
    appid: str
    type: str  # "image" or "thumb"
    url: str


@dataclass
class Draft:
    appid: str
    news_item: list[dict]
    created_at: float


@dataclass
class Publication:
    appid: str
    media_id: str
    article_id: str
    article_urls: list[str]
    submitted_at: float
    # 发布状态轮询接口: 0 成功, 1 发布中, 2 原创失败, 3 常规失败, 4 平台审核不通过, 5 成功后用户删除所有文章,
    # 6 成功后系统封禁所有文章; fail_idx the 1-based numbers of the articles that failed.
    publish_status: int = 0
    fail_idx: list[int] = field(default_factory=list)


@snapshot_part("official_account_publishing")
class PublishingLibrary:
    """Each account's permanent material, inline-image URLs, drafts and publications; use under the lock."""

    def __init__(self) -> None:
        self.material: dict[str, Material] = {}
        self.inline_images: dict[str, str] = {}  # URL without scheme or query -> appid
        self.drafts: dict[str, Draft] = {}
        self.publications: dict[str, Publication] = {}
        # The outcome each account's next freepublish/submit ends with: (publish_status, fail_idx).
        self.next_outcome: dict[str, tuple[int, list[int]]] = {}
        self._publish_ids = itertools.count(2_247_483_001)

    def draft_of(self, appid: str, media_id: object) -> Draft:
        """The account's draft with this media_id, or 40007 (as sendall and freepublish answer for another's)."""
        draft = self.drafts.get(media_id) if isinstance(media_id, str) else None
        if draft is None or draft.appid != appid:
            raise WeChatErrcode(40007)
        return draft

    def forget_app(self, appid: str) -> None:
        self.material = {key: item for key, item in self.material.items() if item.appid != appid}
        self.inline_images = {url: owner for url, owner in self.inline_images.items() if owner != appid}
        self.drafts = {key: draft for key, draft in self.drafts.items() if draft.appid != appid}
        self.publications = {key: item for key, item in self.publications.items() if item.appid != appid}
        self.next_outcome.pop(appid, None)

    def to_snapshot(self) -> dict:
        return {
            "material": {key: asdict(item) for key, item in self.material.items()},
            "inline_images": self.inline_images,
            "drafts": {key: asdict(draft) for key, draft in self.drafts.items()},
            "publications": {key: asdict(item) for key, item in self.publications.items()},
            "next_outcome": {appid: [status, fail_idx] for appid, (status, fail_idx) in self.next_outcome.items()},
        }

    @classmethod
    def from_snapshot(cls, data: dict) -> PublishingLibrary:
        library = cls()
        library.material = {str(key): Material(**item) for key, item in data["material"].items()}
        library.inline_images = {str(url): str(appid) for url, appid in data["inline_images"].items()}
        library.drafts = {str(key): Draft(**draft) for key, draft in data["drafts"].items()}
        library.publications = {str(key): Publication(**item) for key, item in data["publications"].items()}
        library.next_outcome = {
            str(appid): (int(status), [int(index) for index in fail_idx])
            for appid, (status, fail_idx) in data.get("next_outcome", {}).items()
        }
        library._publish_ids = itertools.count(max(map(int, library.publications), default=2_247_483_000) + 1)
        return library


# --- media -----------------------------------------------------------------------------


def _uploaded_image(request: Request) -> tuple[bytes, str | None]:
    """The bytes of the form's "media" file and their real format; 41005 when there is none.

    A form Werkzeug will not parse (a huge non-file field, thousands of parts) is
    "content size out of limit" (45002), as any body over a route's limit is.
    """
    try:
        upload = request.files.get("media")
    except RequestEntityTooLarge:
        raise WeChatErrcode(45002) from None
    data = upload.read() if upload is not None else b""
    if not data:
        raise WeChatErrcode(41005)
    return data, image_format(data)


def _image_url(fmt: str) -> str:
    return f"http://{IMAGE_HOST}/mmbiz_{fmt}/{secrets.token_urlsafe(40)}/0"


def upload_inline_image(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/media/uploadimg: POST multipart "media" (jpg/png under 1 MB) gives {"url"} for article content.

    Only these URLs survive in a draft's content (新建草稿). 40005 not a JPG or PNG (by
    its bytes, whatever its name), 40009 1 MB or more, 41005 no file.
    """
    app = authenticated_app(sandbox, request)
    data, fmt = _uploaded_image(request)
    if fmt not in INLINE_IMAGE_FORMATS:
        raise WeChatErrcode(40005)
    if len(data) > INLINE_IMAGE_MAX_BYTES:
        raise WeChatErrcode(40009)
    url = _image_url(fmt)
    with sandbox.lock:
        sandbox.part(PublishingLibrary).inline_images[_without_scheme_and_query(url)] = app.appid
    return json_response({"url": url})


def add_material(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/material/add_material?type=image|thumb: POST multipart "media" gives {"media_id", "url"}.

    image: bmp/png/jpeg/jpg/gif up to 10 MB; thumb: JPG up to 64 KB (the format read
    from the bytes). 40004 another type (voice and video are not modelled), 40005 wrong
    format, 40009 an image over 10 MB, 40006 a thumb over 64 KB, 41005 no file.
    """
    app = authenticated_app(sandbox, request)
    kind = request.args.get("type", "")
    if kind not in PERMANENT_FORMATS:
        raise WeChatErrcode(40004)
    data, fmt = _uploaded_image(request)
    if fmt not in PERMANENT_FORMATS[kind]:
        raise WeChatErrcode(40005)
    if len(data) > PERMANENT_MAX_BYTES[kind]:
        raise WeChatErrcode(OVERSIZE_ERRCODE[kind])
    media_id = secrets.token_urlsafe(48)
    url = f"{_image_url(fmt)}?wx_fmt={'jpeg' if fmt == 'jpg' else fmt}"
    with sandbox.lock:
        sandbox.part(PublishingLibrary).material[media_id] = Material(appid=app.appid, type=kind, url=url)
    return json_response({"media_id": media_id, "url": url})


# --- drafts ------------------------------------------------------------------------------


class _ContentCleaner(HTMLParser):
    """Re-emits article HTML as WeChat keeps it: no <script>, no on* handlers or javascript: links,
    and <img> only when its src is one of the account's uploadimg URLs."""

    def __init__(self, allowed_image: set[str]):
        super().__init__(convert_charrefs=False)
        self.allowed_image = allowed_image
        self.out: list[str] = []
        self.removed_images = 0
        self._in_script = 0

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], closing: str) -> None:
        if tag == "script":
            self._in_script += closing == ""
            return
        if self._in_script:
            return
        kept = []
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                continue
            kept.append(name if value is None else f'{name}="{escape(value, quote=True)}"')
        if tag == "img":
            src = dict(attrs).get("src") or ""
            if _without_scheme_and_query(src) not in self.allowed_image:
                self.removed_images += 1
                return
        self.out.append(f"<{' '.join([tag, *kept])}{closing}>")

    def handle_starttag(self, tag, attrs):
        self._tag(tag, attrs, "")

    def handle_startendtag(self, tag, attrs):
        self._tag(tag, attrs, " /")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = max(0, self._in_script - 1)
        elif not self._in_script and tag != "img":
            self.out.append(f"</{tag}>")

    def handle_data(self, data):
        if not self._in_script:
            self.out.append(data)

    def handle_entityref(self, name):
        if not self._in_script:
            self.out.append(f"&{name};")

    def handle_charref(self, name):
        if not self._in_script:
            self.out.append(f"&#{name};")


def clean_content(content: str, *, allowed_images: set[str]) -> str:
    cleaner = _ContentCleaner(allowed_images)
    cleaner.feed(content)
    cleaner.close()
    return "".join(cleaner.out)


def _text(article: dict, name: str, *, required: bool = False) -> str:
    value = article.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise WeChatErrcode(47001)
    return value


def _flag(article: dict, name: str) -> int:
    value = article.get(name, 0)
    if isinstance(value, bool) or value not in (0, 1):
        raise WeChatErrcode(47001)
    return value


def _news_item(article: object, *, library: PublishingLibrary, appid: str, single: bool) -> dict:
    """One article checked in WeChat's order and stored as draft/get shows it."""
    if not isinstance(article, dict):
        raise WeChatErrcode(47001)
    if article.get("article_type", "news") != "news":
        raise WeChatErrcode(47001)  # newspic (picture posts) is not modelled
    title = _text(article, "title", required=True)
    author, digest = _text(article, "author"), _text(article, "digest")
    content = _text(article, "content", required=True)
    source_url = _text(article, "content_source_url")
    thumb_media_id = article.get("thumb_media_id")
    if not title:
        raise WeChatErrcode(44003)
    if len(title) > TITLE_MAX_CHARACTERS:
        raise WeChatErrcode(45003)
    if len(author) > AUTHOR_MAX_CHARACTERS:
        raise WeChatErrcode(45110)
    if len(digest) > DIGEST_MAX_CHARACTERS:
        raise WeChatErrcode(45004)
    if not content.strip():
        raise WeChatErrcode(44004)
    # 新建草稿 (content): "必须少于2万字符，且小于1M" — both measured on the content as sent.
    if len(content) >= CONTENT_MAX_CHARACTERS or len(content.encode()) >= CONTENT_MAX_BYTES:
        raise WeChatErrcode(45002)
    if len(source_url.encode()) > SOURCE_URL_MAX_BYTES:
        raise WeChatErrcode(45005)
    thumb = library.material.get(thumb_media_id) if isinstance(thumb_media_id, str) else None
    if thumb is None or thumb.appid != appid:
        raise WeChatErrcode(40007)
    allowed = {url for url, owner in library.inline_images.items() if owner == appid}
    kept = clean_content(content, allowed_images=allowed)
    if single and not digest:
        digest = _plain_text(kept)[:DEFAULT_DIGEST_CHARACTERS]
    return {
        "title": title,
        "author": author,
        # 新建草稿: "仅有单图文消息才有摘要，多图文此处为空".
        "digest": digest if single else "",
        "content": kept,
        "content_source_url": source_url,
        "thumb_media_id": thumb_media_id,
        "thumb_url": thumb.url,
        "need_open_comment": _flag(article, "need_open_comment"),
        "only_fans_can_comment": _flag(article, "only_fans_can_comment"),
    }


def _plain_text(html: str) -> str:
    class Text(HTMLParser):
        def __init__(self):
            super().__init__()
            self.parts: list[str] = []

        def handle_data(self, data):
            self.parts.append(data)

    parser = Text()
    parser.feed(html)
    parser.close()
    return " ".join(" ".join(parser.parts).split())


def add_draft(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/draft/add: POST {"articles": [1-8 articles]} gives {"media_id"}, for sendall's mpnews.

    Each article: title (≤ 32 characters, 45003), author (≤ 16, 45110), digest (≤ 128,
    45004; single-article drafts only), content (HTML under 20,000 characters and
    1 MB, 45002; 44004 empty), content_source_url (≤ 1 KB, 45005), thumb_media_id (a
    permanent image or thumb of this account, else 40007), need_open_comment,
    only_fans_can_comment (0 or 1). Scripts are stripped and <img>s whose src is not
    from this account's media/uploadimg removed. 44003 no articles, 45008 more than 8,
    47001 a field of the wrong type.
    """
    app = authenticated_app(sandbox, request)
    articles = json_body_of(request).get("articles")
    if articles is not None and not isinstance(articles, list):
        raise WeChatErrcode(47001)
    if not articles:
        raise WeChatErrcode(44003)
    if len(articles) > MAX_ARTICLES:
        raise WeChatErrcode(45008)
    with sandbox.lock:
        library = sandbox.part(PublishingLibrary)
        news_item = [
            _news_item(article, library=library, appid=app.appid, single=len(articles) == 1) for article in articles
        ]
        media_id = secrets.token_urlsafe(48)
        library.drafts[media_id] = Draft(appid=app.appid, news_item=news_item, created_at=sandbox.now())
    return json_response({"media_id": media_id})


def get_draft(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/draft/get: POST {"media_id"} gives {"news_item": [...]} as stored (content cleaned).

    40007 for a media_id that is not this account's draft.
    """
    app = authenticated_app(sandbox, request)
    with sandbox.lock:
        draft = sandbox.part(PublishingLibrary).draft_of(app.appid, json_body_of(request).get("media_id"))
        return json_response({"news_item": draft.news_item})


# --- publishing without notifying ----------------------------------------------------------


def submit_publication(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/freepublish/submit: POST {"media_id"} (a draft) gives {"publish_id"}; no quota, no notification.

    The job then succeeds and PUBLISHJOBFINISH (publish_status 0 and each article's URL)
    is pushed to the account's callback URL, if it has one. 40007 not this account's draft.
    """
    app = authenticated_app(sandbox, request)
    with sandbox.lock:
        library = sandbox.part(PublishingLibrary)
        draft = library.draft_of(app.appid, json_body_of(request).get("media_id"))
        publish_id = str(next(library._publish_ids))
        urls = article_urls(app.appid, mid=int(publish_id), count=len(draft.news_item))
        publish_status, fail_idx = library.next_outcome.pop(app.appid, (PUBLISHED, []))
        publication = Publication(
            appid=app.appid,
            media_id=json_body_of(request)["media_id"],
            article_id=secrets.token_urlsafe(32),
            article_urls=urls,
            submitted_at=sandbox.now(),
            publish_status=publish_status,
            fail_idx=fail_idx,
        )
        library.publications[publish_id] = publication
        _publish_job_ended(sandbox, app, publish_id, publication)
    return json_response({"errcode": 0, "errmsg": "ok", "publish_id": publish_id})


def _publish_job_ended(sandbox: Sandbox, app: SandboxApp, publish_id: str, publication: Publication) -> None:
    """PUBLISHJOBFINISH once the job has ended (not while publish_status is 1, publishing)."""
    if publication.publish_status != PUBLISHING and app.callback is not None and app.callback.token is not None:
        _push_publish_finished(sandbox, app, publish_id, publication)


def _publication_detail(publication: Publication) -> dict:
    # 发布状态轮询接口: article_detail "当发布状态为0时(即成功)时" only.
    if publication.publish_status != PUBLISHED:
        return {"count": 0, "item": []}
    return {
        "count": len(publication.article_urls),
        "item": [{"idx": index, "article_url": url} for index, url in enumerate(publication.article_urls, 1)],
    }


def _push_publish_finished(sandbox: Sandbox, app: SandboxApp, publish_id: str, publication: Publication) -> None:
    """发布能力 / 发布接口, 事件推送发布结果: PUBLISHJOBFINISH with PublishEventInfo."""
    detail = _publication_detail(publication)
    fields = {
        "CreateTime": int(sandbox.now()),
        "MsgType": "event",
        "Event": "PUBLISHJOBFINISH",
        "PublishEventInfo": {
            "publish_id": publish_id,
            "publish_status": publication.publish_status,
            "article_id": publication.article_id,
            "article_detail": detail,
            "fail_idx": publication.fail_idx,
        },
    }
    push_to_official_account(
        sandbox,
        app,
        openid=app.appid,
        fields=fields,  # type: ignore[arg-type]
        description=f"PUBLISHJOBFINISH for publish_id {publish_id}",
        delay=PUBLISH_JOB_SECONDS,
    )


def get_publication(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/freepublish/get: POST {"publish_id"} gives publish_status (0 success) and article_detail.

    40007 for a publish_id this account never submitted.
    """
    app = authenticated_app(sandbox, request)
    publish_id = json_body_of(request).get("publish_id")
    if not isinstance(publish_id, (str, int)) or isinstance(publish_id, bool):
        raise WeChatErrcode(47001)
    with sandbox.lock:
        publication = sandbox.part(PublishingLibrary).publications.get(str(publish_id))
        if publication is None or publication.appid != app.appid:
            raise WeChatErrcode(40007)
        return json_response(
            {
                "publish_id": str(publish_id),
                "publish_status": publication.publish_status,
                "article_id": publication.article_id,
                "article_detail": _publication_detail(publication),
                "fail_idx": publication.fail_idx,
            }
        )


def set_publish_outcome(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid", "publish_status", "fail_idx"?, "publish_id"?}: how a publication ends (201).

    Without publish_id: the account's next freepublish/submit. With one: that publication
    moves to this status now (e.g. from 1, publishing), and PUBLISHJOBFINISH is pushed unless
    it is 1. publish_status 0–6 as 发布状态轮询接口 lists; fail_idx the 1-based numbers of the
    failed articles (for 2 原创失败 and 4 平台审核不通过).
    """
    body = ControlInput(request, allowed={"appid", "publish_status", "fail_idx", "publish_id"})
    appid = body.text("appid", required=True)
    publish_status = body.integer("publish_status", minimum=PUBLISHED, maximum=MAX_PUBLISH_STATUS)
    if publish_status is None:
        raise BadControlInput("publish_status is required")
    fail_idx = body.raw("fail_idx") or []
    if not isinstance(fail_idx, list) or not all(
        isinstance(index, int) and not isinstance(index, bool) and 1 <= index <= MAX_ARTICLES for index in fail_idx
    ):
        raise BadControlInput(f"fail_idx must be a list of article numbers from 1 to {MAX_ARTICLES}")
    publish_id = body.text("publish_id")
    with sandbox.lock:
        app = sandbox.registered_app(appid)
        if app.kind != "official_account":
            raise BadControlInput(f"{appid} is a {app.kind}; publications are an Official Account's")
        library = sandbox.part(PublishingLibrary)
        if publish_id is None:
            library.next_outcome[appid] = (publish_status, list(fail_idx))
        else:
            publication = library.publications.get(publish_id)
            if publication is None or publication.appid != appid:
                raise BadControlInput(f"{appid} has no publication {publish_id}")
            publication.publish_status, publication.fail_idx = publish_status, list(fail_idx)
            _publish_job_ended(sandbox, app, publish_id, publication)
    return json_response({"appid": appid, "publish_status": publish_status, "fail_idx": fail_idx}, 201)


ROUTES = (
    Route(
        "/cgi-bin/media/uploadimg",
        ("POST",),
        upload_inline_image,
        app_kinds=OFFICIAL_ACCOUNT,
        max_body_bytes=UPLOAD_MAX_BODY_BYTES,
    ),
    Route(
        "/cgi-bin/material/add_material",
        ("POST",),
        add_material,
        app_kinds=OFFICIAL_ACCOUNT,
        max_body_bytes=UPLOAD_MAX_BODY_BYTES,
    ),
    Route("/cgi-bin/draft/add", ("POST",), add_draft, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/cgi-bin/draft/get", ("POST",), get_draft, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/cgi-bin/freepublish/submit", ("POST",), submit_publication, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/cgi-bin/freepublish/get", ("POST",), get_publication, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/sandbox/official-account/publish-outcome", ("POST",), set_publish_outcome),
)
