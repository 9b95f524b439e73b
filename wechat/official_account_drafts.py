"""An Official Account's drafts at WeChat: the articles a mass send or a publication delivers.

草稿箱: 新建草稿 (draft/add: up to 8 articles; title ≤ 32 characters, author ≤ 16, digest
≤ 128 and kept for a single article only, content < 20,000 characters with images only from
media/uploadimg, thumb_media_id a permanent image) answers the media_id that sendall and
freepublish/submit name; 获取草稿 (draft/get) answers the articles as WeChat stored them.
"""

from dataclasses import asdict, dataclass

from wechat.clients import SharedTokenClient


@dataclass(frozen=True)
class DraftArticle:
    title: str
    author: str
    digest: str
    content: str
    content_source_url: str
    thumb_media_id: str
    need_open_comment: bool
    only_fans_can_comment: bool


@dataclass(frozen=True)
class DraftAdded:
    media_id: str


@dataclass(frozen=True)
class Draft:
    media_id: str
    articles: tuple[DraftArticle, ...]  # as WeChat keeps them: content cleaned, foreign images removed


def draft_add(client: SharedTokenClient, *, articles: list[DraftArticle]) -> DraftAdded:
    answer = client.draft.add([asdict(article) for article in articles])
    return DraftAdded(media_id=answer["media_id"])


def draft_get(client: SharedTokenClient, *, media_id: str) -> Draft:
    answer = client.draft.get(media_id)
    return Draft(media_id=media_id, articles=tuple(_draft_article(item) for item in answer.get("news_item") or []))


def _draft_article(item: dict) -> DraftArticle:
    return DraftArticle(
        title=str(item.get("title", "")),
        author=str(item.get("author", "")),
        digest=str(item.get("digest", "")),
        content=str(item.get("content", "")),
        content_source_url=str(item.get("content_source_url", "")),
        thumb_media_id=str(item.get("thumb_media_id", "")),
        need_open_comment=bool(int(item.get("need_open_comment") or 0)),
        only_fans_can_comment=bool(int(item.get("only_fans_can_comment") or 0)),
    )
