"""Drafts made and read back in the sandbox over HTTP: 新建草稿 and 获取草稿."""

import json

import pytest

from tests.wechat.images import image_bytes
from wechat.errors import WeChatPermanentError
from wechat.official_account_drafts import Draft, DraftAdded, DraftArticle, draft_add, draft_get
from wechat.official_account_media import inline_image_upload, thumb_add


def article(thumb_media_id: str, **changes) -> DraftArticle:
    fields = {
        "title": "Autumn teas",
        "author": "Tea House",
        "digest": "Three teas for cold evenings",
        "content": "<p>Oolong, pu-erh and black tea.</p>",
        "content_source_url": "https://example.com/teas",
        "thumb_media_id": thumb_media_id,
        "need_open_comment": True,
        "only_fans_can_comment": False,
    }
    return DraftArticle(**{**fields, **changes})


@pytest.fixture
def thumb_media_id(account_client) -> str:
    return thumb_add(account_client, jpeg=image_bytes("JPEG")).media_id


def test_a_draft_is_added_as_wechat_documents_and_read_back(sandbox, account_client, thumb_media_id):
    added = draft_add(account_client, articles=[article(thumb_media_id)])

    assert isinstance(added, DraftAdded) and added.media_id
    [call] = sandbox.received("/cgi-bin/draft/add")
    [sent] = json.loads(call["body"])["articles"]
    assert sent["need_open_comment"] == 1 and sent["only_fans_can_comment"] == 0  # WeChat's flags are 0/1
    draft = draft_get(account_client, media_id=added.media_id)
    assert draft == Draft(media_id=added.media_id, articles=(article(thumb_media_id),))


def test_wechat_keeps_uploadimg_images_and_drops_the_others(account_client, thumb_media_id):
    url = inline_image_upload(
        account_client, filename="image.jpg", content=image_bytes("JPEG"), content_type="image/jpeg"
    ).url
    content = f'<p>Cup</p><img src="{url}"><img src="https://example.com/elsewhere.jpg">'
    first = article(thumb_media_id, content=content)
    second = article(thumb_media_id, title="Second")

    media_id = draft_add(account_client, articles=[first, second]).media_id

    stored = draft_get(account_client, media_id=media_id).articles
    assert stored[0].content.count("<img") == 1 and url in stored[0].content
    assert [item.digest for item in stored] == ["", ""]  # a digest is kept for a single article only


def test_a_draft_naming_unknown_thumb_material_is_refused_permanently(account_client):
    with pytest.raises(WeChatPermanentError) as refused:
        draft_add(account_client, articles=[article("no-such-thumb")])

    assert refused.value.errcode == 40007
