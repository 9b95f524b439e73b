"""What WeChat tells us about a push after accepting it: MASSSENDJOBFINISH per batch, PUBLISHJOBFINISH per publication.

Events (公众号文档 "事件推送群发结果", "发布能力 / 事件推送发布结果") are recorded on the batch or
push they name and settle the push's status once every batch has ended. WeChat retries a
push it thinks unanswered: recording the same event again changes nothing.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from articles.models import MassSendJobFinished, Push, PushArticle, PushBatch, PushMode, PushStatus
from articles.services.push_status import push_status_set
from wechat.clients import client_for_official_account
from wechat.models import OfficialAccount

logger = logging.getLogger(__name__)

SEND_SUCCESS = "send success"
# job_status of a batch WeChat refused to send at all (the reason says why).
BATCH_REFUSED = "refused"
# 事件推送群发结果, Status err(N): why WeChat stopped a mass send after accepting it.
ERR_STATUS_REASONS = {
    10001: "suspected advertising",
    20001: "suspected political content",
    20002: "suspected pornography",
    20004: "suspected social content",
    20006: "suspected criminal content",
    20008: "suspected fraud",
    20013: "suspected copyright infringement",
    21000: "other suspected violation",
    22000: "suspected mutual promotion",
    30001: "originality check failed with a system error, and reposts were not to be sent",
    30002: "originality check: judged not sendable",
    30003: "originality check: judged a repost, and reposts were not to be sent",
    40001: "an administrator rejected the send",
    40002: "no administrator confirmed the send within 30 minutes",
}
# 发布能力 / 发布状态轮询接口: publish_status values.
PUBLISH_STATUS_REASONS = {
    1: "still publishing",
    2: "originality check failed",
    3: "publishing failed",
    4: "rejected by the platform's review",
    5: "deleted after publishing",
    6: "banned after publishing",
}
PUBLISHED, PUBLISHING = 0, 1
# 查询群发消息发送状态 (message/mass/get): msg_status → a MASSSENDJOBFINISH-like Status.
MASS_GET_STATUSES = {"SEND_SUCCESS": SEND_SUCCESS, "SEND_FAIL": "send fail", "DELETE": "send success"}


def job_status_reason(status: str) -> str:
    """A MASSSENDJOBFINISH Status in words: "" for success, the err(N) reason, or "send fail"."""
    if status == SEND_SUCCESS:
        return ""
    if status.startswith("err(") and status.endswith(")") and status[4:-1].isdigit():
        code = int(status[4:-1])
        return f"{status}: {ERR_STATUS_REASONS.get(code, 'refused by WeChat for a reason it did not name')}"
    return "WeChat could not send it" if status == "send fail" else status


def _field(message: dict, name: str):
    """An element by name, whatever its case (MsgID in WeChat's documents, MsgId from some senders)."""
    for key, value in message.items():
        if key.lower() == name.lower():
            return value
    return None


def _items(container) -> list[dict]:
    """A ResultList's or article_detail's items: one <item> parses as a dict, several as a list."""
    items = _field(container, "item") if isinstance(container, dict) else None
    if isinstance(items, dict):
        return [items]
    return [item for item in items or [] if isinstance(item, dict)]


def _count(message: dict, name: str) -> int | None:
    value = _field(message, name)
    return int(value) if isinstance(value, str | int) and str(value).isdigit() else None


def _article_urls_set(push_id: int, urls: dict[int, str]) -> None:
    """Per-article URLs by 1-based index into the push's articles (the draft's order); the first kept."""
    for index, item in enumerate(PushArticle.objects.filter(push_id=push_id).order_by("position"), 1):
        url = urls.get(index, "")
        if url and not item.article_url:
            PushArticle.objects.filter(pk=item.pk).update(article_url=url[:500])


# --- mass sends --------------------------------------------------------------------------------


def mass_send_job_finished_record(*, account: OfficialAccount, message: dict) -> None:
    """Keep a MASSSENDJOBFINISH once per msg_id and apply it to its batch, if we know the batch yet."""
    msg_id = str(_field(message, "MsgID") or "").strip()
    if not msg_id.isdigit():
        logger.warning("MASSSENDJOBFINISH for %s without a MsgID", account.appid)
        return
    MassSendJobFinished.objects.get_or_create(account=account, msg_id=msg_id, defaults={"message": message})
    batch = PushBatch.objects.filter(push__account=account, msg_id=msg_id).only("pk").first()
    if batch is None:
        # Sent from WeChat's console, or our msg_id is not stored yet: the send applies it then.
        logger.info("MASSSENDJOBFINISH for %s msg_id %s: no batch (yet)", account.appid, msg_id)
        return
    push_batch_result_apply(batch_id=batch.pk)


@transaction.atomic
def push_batch_result_apply(*, batch_id: int) -> None:
    """Copy the stored MASSSENDJOBFINISH of this batch onto it and settle the push; nothing if none arrived yet."""
    batch = PushBatch.objects.select_related("push").get(pk=batch_id)
    push = Push.objects.select_for_update().get(pk=batch.push_id)
    batch = PushBatch.objects.select_for_update().get(pk=batch_id)
    if not batch.msg_id:
        return
    event = MassSendJobFinished.objects.filter(account_id=push.account_id, msg_id=batch.msg_id).first()
    if event is None:
        return
    message = event.message
    status = str(_field(message, "Status") or "").strip()
    batch.job_status = status[:64]
    batch.job_status_reason = job_status_reason(status)[:200]
    batch.total_count = _count(message, "TotalCount")
    batch.filter_count = _count(message, "FilterCount")
    batch.sent_count = _count(message, "SentCount")
    batch.error_count = _count(message, "ErrorCount")
    batch.finished_at = batch.finished_at or event.received_at
    batch.save(
        update_fields=[
            "job_status",
            "job_status_reason",
            "total_count",
            "filter_count",
            "sent_count",
            "error_count",
            "finished_at",
        ]
    )
    urls = {}
    for item in _items(_field(_field(message, "ArticleUrlResult") or {}, "ResultList") or {}):
        index, url = _field(item, "ArticleIdx"), _field(item, "ArticleUrl")
        if str(index).isdigit() and isinstance(url, str):
            urls[int(index)] = url.strip()
    _article_urls_set(push.pk, urls)
    push_outcome_settle_locked(push=push)


def push_outcome_settle_locked(*, push: Push) -> None:
    """Once every batch has ended: all succeeded → sent, some → partly sent, none → failed. Push row locked."""
    if push.status != PushStatus.SENDING or push.mode != PushMode.MASS_SEND:
        return
    batches = list(push.batches.order_by("number"))
    if not batches or any(batch.finished_at is None for batch in batches):
        return
    failed = [batch for batch in batches if batch.job_status != SEND_SUCCESS]
    if not failed:
        push_status_set(push=push, to_status=PushStatus.SENT)
        return
    reason = f"batch {failed[0].number}: {failed[0].job_status_reason or failed[0].job_status}"
    if len(failed) < len(batches):
        push_status_set(
            push=push,
            to_status=PushStatus.PARTLY_SENT,
            reason=f"{len(batches) - len(failed)} of {len(batches)} batches sent; {reason}",
        )
    else:
        push_status_set(push=push, to_status=PushStatus.FAILED, reason=reason)


def push_mass_send_results_check(*, push_id: int, accepted_before: datetime) -> None:
    """message/mass/get for batches accepted before `accepted_before` whose MASSSENDJOBFINISH never came.

    WeChat does not guarantee the event arrives; without this the push would stay in
    `sending`. mass/get tells only success or failure, not the counts: a late event still
    fills them in. "SENDING" (e.g. waiting for an administrator's confirmation) waits.
    """
    push = Push.objects.select_related("account").filter(pk=push_id).first()
    if push is None or push.status != PushStatus.SENDING:
        return
    waiting = push.batches.exclude(msg_id="").filter(finished_at__isnull=True, accepted_at__lt=accepted_before)
    client = client_for_official_account(push.account)
    for batch in waiting:
        msg_status = str(client.message.get_mass(batch.msg_id).get("msg_status", ""))
        if msg_status in MASS_GET_STATUSES:
            _batch_status_from_query(batch_id=batch.pk, status=MASS_GET_STATUSES[msg_status], msg_status=msg_status)


@transaction.atomic
def _batch_status_from_query(*, batch_id: int, status: str, msg_status: str) -> None:
    batch = PushBatch.objects.get(pk=batch_id)
    push = Push.objects.select_for_update().get(pk=batch.push_id)
    batch = PushBatch.objects.select_for_update().get(pk=batch_id)
    if batch.finished_at is not None:
        return  # the event came meanwhile
    reason = job_status_reason(status) or ""
    batch.job_status = status
    batch.job_status_reason = f"{reason} (message/mass/get said {msg_status}; no MASSSENDJOBFINISH came)".strip()[:200]
    batch.finished_at = timezone.now()
    batch.save(update_fields=["job_status", "job_status_reason", "finished_at"])
    push_outcome_settle_locked(push=push)


# --- publications ----------------------------------------------------------------------------


def publish_job_finished_record(*, account: OfficialAccount, message: dict) -> None:
    """PUBLISHJOBFINISH: the publication's outcome and article URLs onto its publish-only push."""
    info = _field(message, "PublishEventInfo")
    if not isinstance(info, dict):
        return
    publish_id = str(_field(info, "publish_id") or "").strip()
    push = Push.objects.filter(account=account, publish_id=publish_id).only("pk").first() if publish_id else None
    if push is None:
        logger.info("PUBLISHJOBFINISH for %s publish_id %r: no push", account.appid, publish_id)
        return
    push_publication_result_apply(
        push_id=push.pk,
        publish_status=_count(info, "publish_status"),
        article_detail=_field(info, "article_detail") or {},
    )


@transaction.atomic
def push_publication_result_apply(*, push_id: int, publish_status: int | None, article_detail: dict) -> None:
    """A publication's outcome (from PUBLISHJOBFINISH or freepublish/get); a push already settled stays as is."""
    push = Push.objects.select_for_update().get(pk=push_id)
    if push.status != PushStatus.SENDING or publish_status in (None, PUBLISHING):
        return
    if publish_status == PUBLISHED:
        urls = {}
        for item in _items(article_detail):
            index, url = _field(item, "idx"), _field(item, "article_url")
            if str(index).isdigit() and isinstance(url, str):
                urls[int(index)] = url.strip()
        _article_urls_set(push.pk, urls)
        push_status_set(push=push, to_status=PushStatus.SENT)
        return
    words = PUBLISH_STATUS_REASONS.get(publish_status, "publishing failed")
    push_status_set(push=push, to_status=PushStatus.FAILED, reason=f"publish_status {publish_status}: {words}")


def push_publication_check(*, push_id: int) -> None:
    """freepublish/get for a publish-only push whose PUBLISHJOBFINISH has not come (WeChat lost it, or we did)."""
    push = Push.objects.select_related("account").filter(pk=push_id).first()
    if push is None or push.status != PushStatus.SENDING or not push.publish_id:
        return
    answer = client_for_official_account(push.account).freepublish.get(push.publish_id)
    push_publication_result_apply(
        push_id=push.pk,
        publish_status=_count(answer, "publish_status"),
        article_detail=answer.get("article_detail") or {},
    )
