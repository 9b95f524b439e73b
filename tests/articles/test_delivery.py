"""Delivery results: MASSSENDJOBFINISH and PUBLISHJOBFINISH reaching /wechat/oa/<appid>/ and recorded on pushes.

WeChat rules (公众号文档): "事件推送群发结果" (MsgID, Status "send success" / "send fail" / err(N)
with the reasons listed there, TotalCount, FilterCount, SentCount, ErrorCount, ArticleUrlResult),
"发布能力 / 事件推送发布结果" and "发布状态轮询接口" (publish_status 0 success … 6 banned,
article_detail), "接收事件推送" (WeChat retries an unanswered push: recorded once).
"""

import time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.utils import timezone

from articles.models import MassSendJobFinished, Push, PushAudience, PushBatch, PushMode, PushStatus
from articles.services.delivery import (
    mass_send_job_finished_record,
    push_batch_result_apply,
    push_mass_send_results_check,
    push_publication_check,
    push_publication_result_apply,
)
from articles.services.dispatch import mass_send_results_unconfirmed
from articles.services.sending import push_send
from tests.articles.pushes import CALLBACK_TOKEN, account_registered, push_created, wait_for
from wechat.models import OfficialAccount
from wechat.official_account_mass_send import mass_send_job_result_from_message
from wechat.official_account_publishing import PublicationResult
from wechat_sandbox.official_account_push import signature

SAMPLE_MSG_ID = "1000001625"


def batch_finished(push: Push, number: int = 1) -> bool:
    return PushBatch.objects.filter(push=push, number=number, finished_at__isnull=False).exists()


def push_settled(push: Push) -> Push | None:
    push.refresh_from_db()
    return push if push.status != PushStatus.SENDING else None


# --- through the sandbox and our callback endpoint ------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", [OfficialAccount.MessageMode.PLAIN, OfficialAccount.MessageMode.SAFE])
def test_massjobfinish_from_the_sandbox_records_counts_urls_and_marks_the_push_sent(mode, sandbox, live_server):
    account = account_registered(sandbox, callback_base_url=live_server.url, mode=mode)
    sandbox.add_followers(account.appid, count=12)
    push = push_created(account, articles=2)

    push_send(push_id=push.pk)

    push = wait_for(lambda: push_settled(push), what="MASSSENDJOBFINISH to settle the push")
    assert push.status == PushStatus.SENT and push.sent_at is not None
    batch = push.batches.get()
    assert (batch.job_status, batch.job_status_reason) == ("send success", "")
    assert (batch.total_count, batch.filter_count, batch.sent_count, batch.error_count) == (12, 12, 12, 0)
    sent = sandbox.mass_sends(account.appid)["sends"][0]
    assert [item.article_url for item in push.push_articles.order_by("position")] == sent["article_urls"]


@pytest.mark.django_db(transaction=True)
def test_an_err_status_fails_the_push_with_the_reason_in_words(sandbox, live_server):
    account = account_registered(sandbox, callback_base_url=live_server.url)
    sandbox.add_followers(account.appid, count=3)
    sandbox.end_next_mass_send_with(account.appid, "err(20001)")
    push = push_created(account)

    push_send(push_id=push.pk)

    push = wait_for(lambda: push_settled(push), what="the push to settle")
    assert push.status == PushStatus.FAILED
    batch = push.batches.get()
    assert batch.job_status == "err(20001)"
    assert batch.job_status_reason == "err(20001): 涉嫌政治内容"  # stored as staff read it, in Chinese
    assert (batch.sent_count, batch.error_count) == (0, 3)
    assert "涉嫌政治内容" in push.failure_reason
    assert not push.push_articles.exclude(article_url="").exists()


@pytest.mark.django_db(transaction=True)
def test_one_failed_batch_of_two_makes_the_push_partly_sent(sandbox, live_server):
    account = account_registered(sandbox, callback_base_url=live_server.url)
    followers = sandbox.add_followers(account.appid, count=6_000)["openids"]
    openids = [*followers, *(f"o-not-following-{number:011d}" for number in range(4_001))]  # 10,001
    sandbox.end_next_mass_send_with(account.appid, "send fail")
    push = push_created(account, audience=PushAudience.OPENIDS, openids=openids)

    push_send(push_id=push.pk)

    push = wait_for(lambda: push_settled(push), timeout=60, what="both batches to settle the push")
    assert push.status == PushStatus.PARTLY_SENT
    first, second = push.batches.order_by("number")
    assert (first.job_status, first.job_status_reason) == ("send fail", "微信未能发送")
    assert second.job_status == "send success" and second.sent_count > 0
    # Written by the callback, in the site's language.
    assert push.events.last().reason == "2 批中已发送 1 批；第 1 批：微信未能发送"


@pytest.mark.django_db(transaction=True)
def test_publishjobfinish_from_the_sandbox_records_the_article_urls(sandbox, live_server):
    account = account_registered(sandbox, callback_base_url=live_server.url)
    push = push_created(account, articles=2, mode=PushMode.PUBLISH_ONLY)

    push_send(push_id=push.pk)

    push = wait_for(lambda: push_settled(push), what="PUBLISHJOBFINISH to settle the push")
    assert push.status == PushStatus.SENT
    urls = [item.article_url for item in push.push_articles.order_by("position")]
    assert len(urls) == 2 and all(url.startswith("https://mp.weixin.qq.com/s?") for url in urls)
    assert sandbox.mass_sends(account.appid)["count"] == 0


# --- WeChat's shared sample, posted as WeChat posts it -----------------------------------------------


def post_signed(client, account: OfficialAccount, body: bytes):
    timestamp, nonce = str(int(time.time())), "8431"
    query = {"timestamp": timestamp, "nonce": nonce, "signature": signature(CALLBACK_TOKEN, timestamp, nonce)}
    return client.post(f"/wechat/oa/{account.appid}/?{urlencode(query)}", data=body, content_type="text/xml")


@pytest.fixture
def sample_batch(sandbox):
    account = account_registered(sandbox)
    push = push_created(account)
    PushBatch.objects.create(push=push, number=1, clientmsgid=f"sample-{push.pk}", msg_id=SAMPLE_MSG_ID)
    return push


@pytest.mark.django_db
@pytest.mark.parametrize("msg_id_element", ["MsgID", "MsgId"])
def test_the_shared_sample_is_recorded_once_however_often_wechat_retries(
    client, wechat_sample, sample_batch, msg_id_element
):
    body = wechat_sample("massjobfinish-sample.xml").replace(b"MsgID>", f"{msg_id_element}>".encode())

    answers = [post_signed(client, sample_batch.account, body) for _ in range(3)]

    assert [answer.content for answer in answers] == [b"success"] * 3
    batch = sample_batch.batches.get()
    assert (batch.total_count, batch.filter_count, batch.sent_count, batch.error_count) == (100, 80, 75, 5)
    assert batch.job_status == "send success"
    article = sample_batch.push_articles.get()
    assert article.article_url == "https://mp.weixin.qq.com/s?__biz=MzA4MDExMDEyMw==&mid=1000001625&idx=1"
    assert MassSendJobFinished.objects.filter(msg_id=SAMPLE_MSG_ID).count() == 1
    sample_batch.refresh_from_db()
    assert sample_batch.status == PushStatus.SENT
    assert sample_batch.events.filter(to_status=PushStatus.SENT).count() == 1


@pytest.mark.django_db
def test_a_result_arriving_before_the_msg_id_is_stored_is_applied_when_it_is(client, wechat_sample, sample_batch):
    # The worker was killed between WeChat's answer and our write of msg_id; the event came meanwhile.
    PushBatch.objects.filter(push=sample_batch).update(msg_id="")
    post_signed(client, sample_batch.account, wechat_sample("massjobfinish-sample.xml"))
    assert not batch_finished(sample_batch)

    PushBatch.objects.filter(push=sample_batch).update(msg_id=SAMPLE_MSG_ID)  # the resumed send, via 45065
    push_batch_result_apply(batch_id=sample_batch.batches.get().pk)

    assert sample_batch.batches.get().sent_count == 75
    sample_batch.refresh_from_db()
    assert sample_batch.status == PushStatus.SENT


# --- services directly ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_result_for_a_send_we_do_not_know_is_kept_and_changes_nothing(sandbox):
    account = account_registered(sandbox)
    push = push_created(account)

    result = mass_send_job_result_from_message({"MsgID": "42", "Status": "send success"})
    mass_send_job_finished_record(account=account, result=result)

    assert MassSendJobFinished.objects.filter(account=account, msg_id="42").exists()
    push.refresh_from_db()
    assert push.status == PushStatus.SENDING


@pytest.mark.django_db
def test_a_publication_without_its_event_is_confirmed_by_freepublish_get(sandbox):
    account = account_registered(sandbox)  # no callback URL: PUBLISHJOBFINISH never comes
    push = push_created(account, mode=PushMode.PUBLISH_ONLY)
    push_send(push_id=push.pk)

    push_publication_check(push_id=push.pk)

    push.refresh_from_db()
    assert push.status == PushStatus.SENT
    assert push.push_articles.get().article_url.startswith("https://mp.weixin.qq.com/s?")


@pytest.mark.django_db
@pytest.mark.parametrize(("publish_status", "words"), [(2, "originality"), (4, "rejected"), (6, "banned")])
def test_a_failed_publication_fails_the_push_with_the_reason(sandbox, publish_status, words):
    account = account_registered(sandbox)
    push = push_created(account, mode=PushMode.PUBLISH_ONLY)

    result = PublicationResult(publish_id="1", publish_status=publish_status, article_urls={})
    push_publication_result_apply(push_id=push.pk, result=result)

    push.refresh_from_db()
    assert push.status == PushStatus.FAILED
    assert push.failure_reason.startswith(f"publish_status {publish_status}:") and words in push.failure_reason


@pytest.mark.django_db
def test_still_publishing_changes_nothing(sandbox):
    account = account_registered(sandbox)
    push = push_created(account, mode=PushMode.PUBLISH_ONLY)

    result = PublicationResult(publish_id="1", publish_status=1, article_urls={})
    push_publication_result_apply(push_id=push.pk, result=result)

    push.refresh_from_db()
    assert push.status == PushStatus.SENDING


@pytest.mark.django_db
@pytest.mark.parametrize(("outcome", "status"), [("send success", PushStatus.SENT), ("send fail", PushStatus.FAILED)])
def test_a_mass_send_whose_event_never_came_is_settled_by_mass_get(sandbox, outcome, status):
    account = account_registered(sandbox)  # no callback URL: MASSSENDJOBFINISH never comes
    sandbox.end_next_mass_send_with(account.appid, outcome)
    push = push_created(account)
    push_send(push_id=push.pk)
    later = timezone.now() + timedelta(hours=2)
    assert mass_send_results_unconfirmed(now=later, waited=timedelta(hours=1)) == [push.pk]
    assert mass_send_results_unconfirmed(now=timezone.now(), waited=timedelta(hours=1)) == []

    push_mass_send_results_check(push_id=push.pk, accepted_before=later - timedelta(hours=1))

    push.refresh_from_db()
    assert push.status == status
    batch = push.batches.get()
    assert batch.job_status == outcome and "message/mass/get said" in batch.job_status_reason
    assert mass_send_results_unconfirmed(now=later, waited=timedelta(hours=1)) == []


@pytest.mark.django_db
def test_mass_get_answering_sending_keeps_the_push_waiting_and_a_later_check_settles_it(sandbox):
    """查询群发消息发送状态: SENDING has not ended (POST /sandbox/official-account/mass-send-state)."""
    account = account_registered(sandbox)  # no callback URL: MASSSENDJOBFINISH never comes
    push = push_created(account)
    push_send(push_id=push.pk)
    batch = push.batches.get()
    sandbox.set_mass_send_state(batch.msg_id, "SENDING")
    later = timezone.now() + timedelta(hours=2)

    push_mass_send_results_check(push_id=push.pk, accepted_before=later)

    push.refresh_from_db()
    batch.refresh_from_db()
    assert push.status == PushStatus.SENDING and push.sent_at is None
    assert (batch.job_status, batch.finished_at) == ("", None)
    # Still unconfirmed, so beat asks again later; once WeChat has finished, that check settles it.
    assert mass_send_results_unconfirmed(now=later, waited=timedelta(hours=1)) == [push.pk]
    sandbox.set_mass_send_state(batch.msg_id, None)
    push_mass_send_results_check(push_id=push.pk, accepted_before=later)
    push.refresh_from_db()
    assert push.status == PushStatus.SENT


@pytest.mark.django_db(transaction=True)
def test_a_massjobfinish_with_an_empty_article_url_result_is_recorded_without_urls(sandbox, live_server):
    """事件推送群发结果: ArticleUrlResult Count 0 on a successful send (set through mass-send-outcome)."""
    account = account_registered(sandbox, callback_base_url=live_server.url)
    sandbox.add_followers(account.appid, count=4)
    sandbox.end_next_mass_send_with(account.appid, "send success", article_urls=False)
    push = push_created(account, articles=2)

    push_send(push_id=push.pk)

    push = wait_for(lambda: push_settled(push), what="MASSSENDJOBFINISH to settle the push")
    assert push.status == PushStatus.SENT
    batch = push.batches.get()
    assert (batch.job_status, batch.sent_count) == ("send success", 4)
    assert list(push.push_articles.values_list("article_url", flat=True)) == ["", ""]
    assert MassSendJobFinished.objects.filter(account=account, msg_id=batch.msg_id).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("publish_status", "fail_idx", "words"),
    [
        (2, [2], "publish_status 2: originality check failed; the articles that failed: 2. “Second”"),
        (3, [], "publish_status 3: publishing failed"),
        (
            4,
            [1, 2],
            "publish_status 4: rejected by the platform's review; the articles that failed: 1. “First”, 2. “Second”",
        ),
        (5, [], "publish_status 5: deleted after publishing"),
        (6, [], "publish_status 6: banned after publishing"),
    ],
)
def test_each_failed_publish_status_from_freepublish_get_is_recorded_in_staff_words(
    sandbox, publish_status, fail_idx, words
):
    """发布状态轮询接口: publish_status 2–6 and fail_idx, set through POST /sandbox/official-account/publish-outcome."""
    account = account_registered(sandbox)  # no callback URL: only freepublish/get tells
    push = push_created(account, articles=2, mode=PushMode.PUBLISH_ONLY)
    for item, title in zip(push.push_articles.order_by("position"), ("First", "Second"), strict=True):
        item.article.title = title
        item.article.save()
    sandbox.set_publish_outcome(account.appid, publish_status, fail_idx=fail_idx)
    push_send(push_id=push.pk)

    push_publication_check(push_id=push.pk)

    push.refresh_from_db()
    assert push.status == PushStatus.FAILED
    assert push.failure_reason == words
    assert not push.push_articles.exclude(article_url="").exists()


@pytest.mark.django_db
def test_a_publication_still_publishing_waits_and_is_sent_once_wechat_has_published_it(sandbox):
    account = account_registered(sandbox)
    push = push_created(account, mode=PushMode.PUBLISH_ONLY)
    sandbox.set_publish_outcome(account.appid, 1)
    push_send(push_id=push.pk)

    push_publication_check(push_id=push.pk)
    push.refresh_from_db()
    assert push.status == PushStatus.SENDING

    sandbox.set_publish_outcome(account.appid, 0, publish_id=push.publish_id)
    push_publication_check(push_id=push.pk)
    push.refresh_from_db()
    assert push.status == PushStatus.SENT
    assert push.push_articles.get().article_url.startswith("https://mp.weixin.qq.com/s?")


@pytest.mark.django_db(transaction=True)
def test_publishjobfinish_with_fail_idx_names_the_failed_articles(sandbox, live_server):
    """事件推送发布结果: PublishEventInfo's fail_idx, one element per failed article in the XML."""
    account = account_registered(sandbox, callback_base_url=live_server.url)
    push = push_created(account, articles=3, mode=PushMode.PUBLISH_ONLY)
    titles = list(push.push_articles.order_by("position").values_list("article__title", flat=True))
    sandbox.set_publish_outcome(account.appid, 2, fail_idx=[1, 3])

    push_send(push_id=push.pk)

    push = wait_for(lambda: push_settled(push), what="PUBLISHJOBFINISH to settle the push")
    assert push.status == PushStatus.FAILED
    assert push.failure_reason == (f"publish_status 2: 原创校验未通过；失败的文章：1. “{titles[0]}”, 3. “{titles[2]}”")
