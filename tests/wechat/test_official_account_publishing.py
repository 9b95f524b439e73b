"""Publishing without notifying, in the sandbox over HTTP: freepublish/submit and /get, and PUBLISHJOBFINISH."""

import pytest

from tests.wechat.images import image_bytes
from wechat.errors import WeChatPermanentError
from wechat.official_account_drafts import DraftArticle, draft_add
from wechat.official_account_media import thumb_add
from wechat.official_account_publishing import (
    PublicationResult,
    PublicationSubmitted,
    publication_get,
    publication_result_from_message,
    publication_submit,
)


def draft_of_two(client) -> str:
    thumb = thumb_add(client, jpeg=image_bytes("JPEG")).media_id
    articles = [
        DraftArticle(
            title=title,
            author="",
            digest="",
            content=f"<p>{title}</p>",
            content_source_url="",
            thumb_media_id=thumb,
            need_open_comment=False,
            only_fans_can_comment=False,
        )
        for title in ("Oolong", "Pu-erh")
    ]
    return draft_add(client, articles=articles).media_id


def test_a_submitted_draft_is_published_with_each_articles_url(sandbox, registered_account, account_client):
    submitted = publication_submit(account_client, media_id=draft_of_two(account_client))

    assert isinstance(submitted, PublicationSubmitted) and submitted.publish_id
    result = publication_get(account_client, publish_id=submitted.publish_id)
    assert result.publish_id == submitted.publish_id
    assert (result.publish_status, result.published, result.pending) == (0, True, False)
    assert sorted(result.article_urls) == [1, 2]
    assert all(url.startswith("https://mp.weixin.qq.com/s?") for url in result.article_urls.values())
    assert sandbox.mass_sends(registered_account.appid)["count"] == 0  # no quota used


def test_an_unknown_publish_id_is_refused_permanently(account_client):
    with pytest.raises(WeChatPermanentError) as refused:
        publication_get(account_client, publish_id="404")

    assert refused.value.errcode == 40007


def test_publishjobfinish_is_read_from_its_publish_event_info():
    message = {
        "ToUserName": "gh_4d00ed8d6399",
        "FromUserName": "oV5CrjpxgaGXNHIQigzNlgLTnwic",
        "CreateTime": "1763881200",
        "MsgType": "event",
        "Event": "PUBLISHJOBFINISH",
        "PublishEventInfo": {
            "publish_id": "2247503051",
            "publish_status": "0",
            "article_id": "b5O2OUs25HBxRceL7hfReg",
            "article_detail": {"count": "1", "item": {"idx": "1", "article_url": " https://mp.weixin.qq.com/s?x "}},
        },
    }

    result = publication_result_from_message(message)

    assert result == PublicationResult(
        publish_id="2247503051", publish_status=0, article_urls={1: "https://mp.weixin.qq.com/s?x"}
    )


def test_publishjobfinish_without_a_publish_id_is_unusable():
    with pytest.raises(ValueError, match="publish_id"):
        publication_result_from_message({"MsgType": "event", "Event": "PUBLISHJOBFINISH", "PublishEventInfo": {}})


@pytest.mark.parametrize(
    ("publish_status", "pending", "reason"),
    [
        (None, True, "publish_status None: publishing failed"),
        (1, True, "publish_status 1: still publishing"),
        (2, False, "publish_status 2: originality check failed"),
        (4, False, "publish_status 4: rejected by the platform's review"),
        (6, False, "publish_status 6: banned after publishing"),
        (9, False, "publish_status 9: publishing failed"),
    ],
)
def test_publish_statuses_pending_or_failed_in_words(publish_status, pending, reason):
    result = PublicationResult(publish_id="1", publish_status=publish_status, article_urls={})

    assert (result.published, result.pending, result.failure_reason) == (False, pending, reason)
