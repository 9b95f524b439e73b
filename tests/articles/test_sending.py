"""push_send against the WeChat sandbox over HTTP: each step once, batches, and WeChat's errors.

WeChat rules (公众号文档): "群发接口和原创校验" (sendall/send, touser ≤ 10,000, clientmsgid
repeat → 45065 with the earlier msg_id, 45028 no quota, preview uses no quota), "上传图文消息
图片" (uploadimg < 1 MB), "上传永久素材" (thumb ≤ 64 KB), "新建草稿" (only uploadimg images
kept), "全局返回码说明" (-1 busy, 45009 call quota, 40001 token invalid).
"""

import pytest
from django.core.files.storage import default_storage
from django.test import override_settings
from django.utils import timezone

from articles.draft_limits import UPLOADIMG_URL_MIN, DraftContentTooLarge
from articles.models import (
    FollowerMonthlyReceipts,
    MassSendQuotaSpent,
    Push,
    PushAudience,
    PushBatch,
    PushEvent,
    PushMode,
    PushStatus,
)
from articles.services.dispatch import pushes_due_claim
from articles.services.push_status import push_transition
from articles.services.sending import push_draft_prepare, push_preview_send, push_send
from tests.articles.pushes import account_registered, push_created, stored_image, wait_for
from tests.articles.send_steps import after_send_step
from tests.factories import ArticleFactory
from wechat.clients import client_for_official_account
from wechat.errors import WeChatPermanentError, WeChatTimeout, WeChatTransientError
from wechat.models import OfficialAccount
from wechat.official_account_drafts import draft_get
from wechat_sandbox.official_account_followers import AccountFollowers

pytestmark = pytest.mark.django_db

SENDALL = "/cgi-bin/message/mass/sendall"
SEND = "/cgi-bin/message/mass/send"


def openids(count: int) -> list[str]:
    return [f"o{number:027d}" for number in range(count)]


def calls(sandbox, path: str) -> int:
    return len(sandbox.received(path))


def test_a_push_to_all_uploads_each_image_once_makes_one_draft_and_sends_once(sandbox):
    account = account_registered(sandbox)
    sandbox.add_followers(account.appid, count=30)
    photo, chart = stored_image("photo.jpg"), stored_image("chart.png", fmt="PNG")
    contents = [f'<p>One</p><img src="{photo}"><p>x</p><img src="{chart}">', f'<p>Two</p><img src="{photo}">']
    push = push_created(account, articles=2, contents=contents)
    # Each article has its own cover.
    first, second = (item.article for item in push.push_articles.order_by("position"))
    second.cover = ArticleFactory.build(cover__color="crimson").cover
    second.save()

    push_send(push_id=push.pk)

    uploads = sandbox.received("/cgi-bin/media/uploadimg")
    assert len(uploads) == 2  # the photo used twice is uploaded once
    # Named by their format, as WeChat reads the extension too.
    assert ['filename="image.jpg"' in uploads[0]["body"], 'filename="image.png"' in uploads[1]["body"]] == [True] * 2
    assert calls(sandbox, "/cgi-bin/material/add_material") == 2
    assert calls(sandbox, "/cgi-bin/draft/add") == 1
    push.refresh_from_db()
    thumbs = [item.thumb_media_id for item in push.push_articles.order_by("position")]
    assert all(thumbs) and thumbs[0] != thumbs[1]
    draft = draft_get(client_for_official_account(account), media_id=push.draft_media_id).articles
    # WeChat keeps only uploadimg images: every one of ours survived, pointing at WeChat.
    assert [item.content.count("<img") for item in draft] == [2, 1]
    assert "mmbiz.qpic.cn" in draft[0].content and "/media/" not in draft[0].content
    first.refresh_from_db()
    assert first.content == contents[0]  # the staff's article is untouched
    [batch] = push.batches.all()
    sent = sandbox.mass_sends(account.appid)
    assert sent["count"] == 1
    assert sent["per_clientmsgid"] == {batch.clientmsgid: 1}
    assert sent["sends"][0]["audience"] == {"is_to_all": True}
    assert batch.msg_id == str(sent["sends"][0]["msg_id"]) and batch.accepted_at is not None
    assert push.status == PushStatus.SENDING  # until MASSSENDJOBFINISH says how it ended


def test_the_send_run_twice_calls_wechat_once(sandbox):
    account = account_registered(sandbox)
    push = push_created(account, contents=[f'<img src="{stored_image("a.jpg")}">'])
    push_send(push_id=push.pk)
    calls_after_first = len(sandbox.received())

    push_send(push_id=push.pk)

    assert len(sandbox.received()) == calls_after_first
    assert list(sandbox.mass_sends(account.appid)["per_clientmsgid"].values()) == [1]


def test_a_push_to_a_tag_is_one_sendall_for_that_tag(sandbox):
    account = account_registered(sandbox)
    tag_id = sandbox.create_tag(account.appid, "tea lovers")
    sandbox.add_followers(account.appid, count=5, tag_ids=[tag_id])
    push = push_created(account, audience=PushAudience.TAG, tag_id=tag_id)

    push_send(push_id=push.pk)

    [send] = sandbox.mass_sends(account.appid)["sends"]
    assert send["audience"] == {"is_to_all": False, "tag_id": tag_id}
    assert send["total_count"] == 5


def test_an_openid_list_of_25001_goes_as_three_batches_with_their_own_clientmsgids(sandbox):
    account = account_registered(sandbox)
    audience = openids(25_001)
    push = push_created(account, audience=PushAudience.OPENIDS, openids=[*audience, audience[0], ""])

    push_send(push_id=push.pk)

    batches = list(push.batches.order_by("number"))
    sent = sandbox.mass_sends(account.appid)
    assert [batch.number for batch in batches] == [1, 2, 3]
    assert sent["per_clientmsgid"] == {batch.clientmsgid: 1 for batch in batches}
    assert all(len(batch.clientmsgid) <= 32 and batch.clientmsgid.isascii() for batch in batches)
    # Balanced, each within send's 2–10,000, and together the list once (the repeat and blank dropped).
    assert [send["audience"]["touser_count"] for send in sent["sends"]] == [8334, 8334, 8333]
    assert {batch.msg_id for batch in batches} == {str(send["msg_id"]) for send in sent["sends"]}


def test_a_large_inline_photo_is_compressed_under_uploadimgs_limit(sandbox):
    account = account_registered(sandbox)
    photo = stored_image("big-photo.jpg", size=(1400, 1000), noise=True)
    assert default_storage.size(photo.removeprefix("/media/")) > 1024 * 1024
    push = push_created(account, contents=[f'<p>Big</p><img src="{photo}">'])

    push_send(push_id=push.pk)

    [upload] = sandbox.received("/cgi-bin/media/uploadimg")
    assert upload["errcode"] is None  # answered with a URL, not 40009 (too large)
    push.refresh_from_db()
    assert push.batches.get().msg_id


def test_45028_fails_the_push_with_the_reason_and_marks_the_window_spent(sandbox):
    account = account_registered(sandbox, account_type=OfficialAccount.AccountType.SUBSCRIPTION)
    # Today's one mass send was spent elsewhere (WeChat's console, another tool): WeChat refuses ours.
    earlier = push_created(account)
    push_send(push_id=earlier.pk)
    push = push_created(account)

    push_send(push_id=push.pk)

    push.refresh_from_db()
    assert push.status == PushStatus.FAILED
    assert "45028" in push.failure_reason and "quota" in push.failure_reason
    assert MassSendQuotaSpent.objects.filter(account=account, push=push).count() == 1
    batch = push.batches.get()
    assert (batch.job_status, batch.msg_id) == ("refused", "")
    assert "45028" in batch.job_status_reason
    assert sandbox.mass_sends(account.appid)["count"] == 1


def test_45028_on_a_service_accounts_fifth_send_to_all_fails_it_and_marks_the_month_spent(sandbox):
    account = account_registered(sandbox, account_type=OfficialAccount.AccountType.SERVICE)
    # Four sends to all followers a month (console sends included): the sandbox takes four, as WeChat does.
    for _ in range(4):
        sent = push_created(account)
        push_send(push_id=sent.pk)
        sent.refresh_from_db()
        assert sent.batches.get().msg_id
    fifth = push_created(account)

    push_send(push_id=fifth.pk)

    fifth.refresh_from_db()
    assert fifth.status == PushStatus.FAILED and "45028" in fifth.failure_reason
    assert MassSendQuotaSpent.objects.filter(account=account, push=fifth).count() == 1
    assert sandbox.mass_sends(account.appid)["count"] == 4


def test_45065_takes_the_msg_id_of_the_send_wechat_already_accepted(sandbox, settings):
    account = account_registered(sandbox)
    push = push_created(account)
    # WeChat accepts the send but answers after we stopped waiting: we do not know its msg_id.
    settings.WECHAT_HTTP_TIMEOUT = 0.5
    sandbox.add_fault(SENDALL, delay=1.5)
    with pytest.raises(WeChatTimeout):
        push_send(push_id=push.pk)
    assert push.batches.get().msg_id == ""
    settings.WECHAT_HTTP_TIMEOUT = 5.0
    wait_for(lambda: sandbox.mass_sends(account.appid)["count"] == 1, what="WeChat to accept the delayed send")

    push_send(push_id=push.pk)

    [send] = sandbox.mass_sends(account.appid)["sends"]
    assert [call["errcode"] for call in sandbox.received(SENDALL)][-1] == 45065
    assert push.batches.get().msg_id == str(send["msg_id"])
    assert sandbox.mass_sends(account.appid)["count"] == 1


@pytest.mark.parametrize("errcode", [-1, 45009])
def test_busy_or_over_call_quota_is_transient_and_the_next_run_sends_once(sandbox, errcode):
    account = account_registered(sandbox)
    push = push_created(account)
    sandbox.add_fault(SENDALL, errcode=errcode)

    with pytest.raises(WeChatTransientError) as raised:
        push_send(push_id=push.pk)

    assert raised.value.errcode == errcode
    push.refresh_from_db()
    assert push.status == PushStatus.SENDING and push.batches.get().msg_id == ""
    push_send(push_id=push.pk)
    assert list(sandbox.mass_sends(account.appid)["per_clientmsgid"].values()) == [1]
    assert push.batches.get().msg_id


def test_40001_refetches_the_token_and_sends_in_the_same_run(sandbox):
    account = account_registered(sandbox)
    push = push_created(account)
    sandbox.add_fault(SENDALL, errcode=40001)

    push_send(push_id=push.pk)

    assert [call["errcode"] for call in sandbox.received(SENDALL)] == [40001, None]  # None: answered without error
    assert push.batches.get().msg_id
    assert sandbox.mass_sends(account.appid)["count"] == 1


def test_another_permanent_error_fails_the_push_with_wechats_code(sandbox):
    account = account_registered(sandbox)
    push = push_created(account, audience=PushAudience.TAG, tag_id=999)  # no such tag at WeChat

    push_send(push_id=push.pk)

    push.refresh_from_db()
    assert push.status == PushStatus.FAILED
    assert "WeChat error 45159: the tag no longer exists" in push.failure_reason
    assert PushEvent.objects.filter(push=push, to_status=PushStatus.FAILED).count() == 1


def test_a_refused_later_batch_leaves_earlier_accepted_ones_to_their_results(sandbox):
    account = account_registered(sandbox)
    push = push_created(account, audience=PushAudience.OPENIDS, openids=openids(10_001))

    def refuse_next(step: str) -> None:
        if step == "batch:1":  # batch 1 went through: WeChat refuses batch 2
            sandbox.add_fault(SEND, errcode=40007)

    with after_send_step(refuse_next):
        push_send(push_id=push.pk)

    push.refresh_from_db()
    first, second = push.batches.order_by("number")
    assert first.msg_id and first.finished_at is None
    assert (second.job_status, second.msg_id) == ("refused", "") and "40007" in second.job_status_reason
    assert push.status == PushStatus.SENDING  # batch 1's result decides between partly sent and failed


def test_an_image_that_is_gone_fails_the_push_with_a_clear_reason(sandbox):
    account = account_registered(sandbox)
    push = push_created(account, contents=['<img src="/media/articles/inline/deleted.jpg">'])

    push_send(push_id=push.pk)

    push.refresh_from_db()
    assert push.status == PushStatus.FAILED
    assert "articles/inline/deleted.jpg is missing" in push.failure_reason
    assert calls(sandbox, "/cgi-bin/draft/add") == 0


def test_a_push_not_sending_is_left_alone(sandbox):
    account = account_registered(sandbox)
    push = push_created(account, status=PushStatus.SCHEDULED)

    push_send(push_id=push.pk)

    assert sandbox.received() == []
    assert not PushBatch.objects.filter(push=push).exists()


def test_publish_only_submits_the_draft_once_without_quota(sandbox):
    account = account_registered(sandbox)
    push = push_created(account, mode=PushMode.PUBLISH_ONLY)

    push_send(push_id=push.pk)
    push_send(push_id=push.pk)

    push.refresh_from_db()
    assert push.publish_id
    assert calls(sandbox, "/cgi-bin/freepublish/submit") == 1
    assert sandbox.mass_sends(account.appid)["count"] == 0


# --- preview ---------------------------------------------------------------------------------


def test_a_preview_uses_no_quota_and_its_draft_is_reused_by_the_send(sandbox):
    account = account_registered(sandbox, account_type=OfficialAccount.AccountType.SUBSCRIPTION)
    [openid] = sandbox.add_followers(account.appid, count=1)["openids"]
    push = push_created(account, status=PushStatus.DRAFT)

    push_preview_send(push_id=push.pk, recipient=openid)

    sent = sandbox.mass_sends(account.appid)
    assert sent["count"] == 0
    [preview] = sent["previews"]
    assert preview["to"] == openid
    push.refresh_from_db()
    assert preview["media_id"] == push.draft_media_id
    for to_status in (PushStatus.SCHEDULED, PushStatus.SENDING):
        push_transition(push_id=push.pk, to_status=to_status)
    push_send(push_id=push.pk)
    assert calls(sandbox, "/cgi-bin/draft/add") == 1
    assert sandbox.mass_sends(account.appid)["sends"][0]["media_id"] == push.draft_media_id


def test_a_preview_after_the_article_changed_makes_a_new_draft(sandbox):
    account = account_registered(sandbox)
    openid = sandbox.add_followers(account.appid, count=1)["openids"][0]
    push = push_created(account, status=PushStatus.DRAFT)
    push_preview_send(push_id=push.pk, recipient=openid)
    article = push.push_articles.get().article
    article.title = "Changed after the preview"
    article.save()

    push_preview_send(push_id=push.pk, recipient=openid)

    assert calls(sandbox, "/cgi-bin/draft/add") == 2


def test_a_preview_to_someone_not_following_is_refused_by_wechat(sandbox):
    account = account_registered(sandbox)
    push = push_created(account, status=PushStatus.DRAFT)

    with pytest.raises(WeChatPermanentError) as refused:
        push_preview_send(push_id=push.pk, recipient="o" + "x" * 27)

    assert refused.value.errcode == 40003


# 12 a minute is one call per 6-second window of the limiter (articles/services/call_limit.py).
@override_settings(WECHAT_MASS_SEND_CALLS_PER_MINUTE=12, WECHAT_MASS_SEND_SLOT_WAIT_SECONDS=0)
def test_our_own_call_limit_holds_sends_back_as_transient_errors(sandbox):
    account = account_registered(sandbox)
    pushes = [push_created(account) for _ in range(3)]
    held_back = 0

    for push in pushes:  # within one second: at most one window boundary passes
        try:
            push_send(push_id=push.pk)
        except WeChatTransientError:
            held_back += 1

    sent = sandbox.mass_sends(account.appid)["count"]
    assert 1 <= sent <= 2
    assert held_back == 3 - sent
    assert all(call["errcode"] is None for call in sandbox.received(SENDALL))  # WeChat never had to refuse one


def test_a_push_in_three_batches_counts_once_against_each_followers_four_a_month(sandbox):
    """群发接口和原创校验: a service account's followers each receive at most 4 mass sends a month."""
    account = account_registered(sandbox, account_type=OfficialAccount.AccountType.SERVICE)
    sandbox.add_followers(account.appid, count=25_001)
    followers = AccountFollowers(appid=account.appid)
    in_batches = push_created(
        account, audience=PushAudience.OPENIDS, openids=[followers.openid(index) for index in range(25_001)]
    )
    push_send(push_id=in_batches.pk)

    for _ in range(4):
        push_send(push_id=push_created(account).pk)

    filtered = [send["filter_count"] for send in sandbox.mass_sends(account.appid)["sends"]]
    # Each follower got the batched push once: three more reach everyone, the fifth no one.
    assert filtered == [8334, 8334, 8333, 25_001, 25_001, 25_001, 0]


def test_45066_retry_too_fast_is_transient(sandbox):
    account = account_registered(sandbox)
    push = push_created(account)
    sandbox.add_fault(SENDALL, errcode=45066, errmsg="same clientmsgid retry too fast")

    with pytest.raises(WeChatTransientError):
        push_send(push_id=push.pk)

    push.refresh_from_db()
    assert push.status == PushStatus.SENDING
    push_send(push_id=push.pk)
    assert sandbox.mass_sends(account.appid)["count"] == 1


def test_a_failed_push_retried_by_staff_is_sent_with_new_clientmsgids(sandbox):
    account = account_registered(sandbox)
    push = push_created(account)
    sandbox.add_fault(SENDALL, errcode=45028)
    push_send(push_id=push.pk)
    first_attempt = push.batches.get().clientmsgid
    push_transition(push_id=push.pk, to_status=PushStatus.SCHEDULED)  # staff: retry
    Push.objects.filter(pk=push.pk).update(scheduled_at=timezone.now())

    assert pushes_due_claim(now=timezone.now()) == [push.pk]
    push_send(push_id=push.pk)

    batch = push.batches.get()
    assert batch.clientmsgid != first_attempt and batch.msg_id
    assert sandbox.mass_sends(account.appid)["per_clientmsgid"] == {batch.clientmsgid: 1}
    assert calls(sandbox, "/cgi-bin/draft/add") == 1  # the articles did not change: the draft is reused


@pytest.mark.parametrize("openid_count", [0, 1])
def test_an_openid_list_under_two_fails_before_calling_wechat(sandbox, openid_count):
    account = account_registered(sandbox)
    push = push_created(account, audience=PushAudience.OPENIDS, openids=openids(openid_count))

    push_send(push_id=push.pk)

    push.refresh_from_db()
    assert push.status == PushStatus.FAILED
    assert push.failure_reason == "WeChat sends to a list of at least 2 openids."
    assert calls(sandbox, SEND) == calls(sandbox, SENDALL) == 0


def test_a_subscription_accounts_openid_list_push_fails_before_any_step(sandbox):
    """接口目录: message/mass/send is for service accounts (订阅号不可用); a push built before the rule is stopped."""
    account = account_registered(sandbox, account_type=OfficialAccount.AccountType.SUBSCRIPTION)
    push = push_created(
        account, audience=PushAudience.OPENIDS, openids=openids(3), contents=[f'<img src="{stored_image("s.jpg")}">']
    )

    push_send(push_id=push.pk)

    push.refresh_from_db()
    assert push.status == PushStatus.FAILED
    assert "subscription account cannot send to a list of openids" in push.failure_reason
    assert (
        calls(sandbox, "/cgi-bin/media/uploadimg") == calls(sandbox, "/cgi-bin/draft/add") == calls(sandbox, SEND) == 0
    )
    assert not MassSendQuotaSpent.objects.filter(account=account).exists()


def test_content_over_20000_characters_once_images_have_wechat_urls_fails_before_uploading(sandbox):
    """新建草稿: content must be under 20,000 characters as sent, after images are replaced by uploadimg URLs."""
    account = account_registered(sandbox)
    image = stored_image("long.jpg")
    images = f'<img src="{image}">' * 20
    content = "<p>" + "茶" * (19_990 - len(images) - 7) + "</p>" + images
    assert len(content) < 20_000  # within the limit as written
    push = push_created(account, contents=[content])

    push_send(push_id=push.pk)

    push.refresh_from_db()
    assert push.status == PushStatus.FAILED
    # Refused unseen only when certainly over: with the shortest URL WeChat could give each image.
    at_least = len(content) + 20 * (UPLOADIMG_URL_MIN - len(image))
    assert f"will be at least {at_least:,} characters" in push.failure_reason
    assert f"cut at least {at_least - 19_999:,} characters" in push.failure_reason
    assert calls(sandbox, "/cgi-bin/media/uploadimg") == calls(sandbox, "/cgi-bin/draft/add") == 0
    assert calls(sandbox, SENDALL) == 0


def test_the_exact_size_is_checked_with_the_uploaded_urls_before_draft_add(sandbox):
    """The estimate is only a guess; the draft step measures the content again with WeChat's real URLs."""
    account = account_registered(sandbox)
    image = stored_image("exact.jpg")
    images = f'<img src="{image}">' * 20
    content = "<p>" + "a" * (19_990 - len(images) - 7) + "</p>" + images
    push = push_created(account, contents=[content])

    with pytest.raises(DraftContentTooLarge) as refused:
        push_draft_prepare(push=push, client=client_for_official_account(account))

    assert "once its images have their WeChat addresses" in str(refused.value)
    assert calls(sandbox, "/cgi-bin/media/uploadimg") == 1
    assert calls(sandbox, "/cgi-bin/draft/add") == 0


def test_each_accepted_batch_counts_once_for_each_follower_it_reached(sandbox):
    account = account_registered(sandbox, account_type=OfficialAccount.AccountType.SERVICE)
    sandbox.add_followers(account.appid, count=3)
    followers = AccountFollowers(appid=account.appid)
    listed = [followers.openid(index) for index in range(3)]
    push = push_created(account, audience=PushAudience.OPENIDS, openids=listed)

    push_send(push_id=push.pk)
    push_send(push_id=push.pk)  # a redelivered task: nothing new accepted, nothing counted again

    counts = dict(FollowerMonthlyReceipts.objects.filter(account=account).values_list("openid", "count"))
    assert counts == dict.fromkeys(listed, 1)
