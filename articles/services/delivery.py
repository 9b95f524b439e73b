"""What WeChat tells us about a push after accepting it: MASSSENDJOBFINISH per batch, PUBLISHJOBFINISH per publication.

Events (公众号文档 "事件推送群发结果", "发布能力 / 事件推送发布结果") are recorded on the batch or
push they name and settle the push's status once every batch has ended. WeChat retries a
push it thinks unanswered: recording the same event again changes nothing.
"""

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from articles.models import MassSendJobFinished, Push, PushArticle, PushBatch, PushMode, PushStatus
from articles.services.push_status import push_status_set
from wechat.clients import client_for_official_account
from wechat.models import OfficialAccount
from wechat.official_account_mass_send import (
    SEND_SUCCESS,
    MassSendJobResult,
    job_status_reason,
    mass_send_job_result_from_message,
    mass_send_state,
)
from wechat.official_account_publishing import PublicationResult, publication_get

logger = logging.getLogger(__name__)

# job_status of a batch WeChat refused to send at all (the reason says why).
BATCH_REFUSED = "refused"


def _article_urls_set(push_id: int, urls: dict[int, str]) -> None:
    """Per-article URLs by 1-based index into the push's articles (the draft's order); the first kept."""
    for index, item in enumerate(PushArticle.objects.filter(push_id=push_id).order_by("position"), 1):
        url = urls.get(index, "")
        if url and not item.article_url:
            PushArticle.objects.filter(pk=item.pk).update(article_url=url[:500])


# --- mass sends --------------------------------------------------------------------------------


def mass_send_job_finished_record(*, account: OfficialAccount, result: MassSendJobResult) -> None:
    """Keep a MASSSENDJOBFINISH once per msg_id and apply it to its batch, if we know the batch yet."""
    MassSendJobFinished.objects.get_or_create(
        account=account, msg_id=result.msg_id, defaults={"message": result.message}
    )
    batch = PushBatch.objects.filter(push__account=account, msg_id=result.msg_id).only("pk").first()
    if batch is None:
        # Sent from WeChat's console, or our msg_id is not stored yet: the send applies it then.
        logger.info("MASSSENDJOBFINISH for %s msg_id %s: no batch (yet)", account.appid, result.msg_id)
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
    result = mass_send_job_result_from_message(event.message)
    batch.job_status = result.status[:64]
    batch.job_status_reason = result.status_reason[:200]
    batch.total_count = result.total_count
    batch.filter_count = result.filter_count
    batch.sent_count = result.sent_count
    batch.error_count = result.error_count
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
    _article_urls_set(push.pk, result.article_urls)
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
    reason = _("batch %(number)s: %(why)s") % {
        "number": failed[0].number,
        "why": failed[0].job_status_reason or failed[0].job_status,
    }
    if len(failed) < len(batches):
        push_status_set(
            push=push,
            to_status=PushStatus.PARTLY_SENT,
            reason=_("%(sent)s of %(batches)s batches sent; %(reason)s")
            % {"sent": len(batches) - len(failed), "batches": len(batches), "reason": reason},
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
        state = mass_send_state(client, msg_id=batch.msg_id)
        if state.job_status is not None:
            _batch_status_from_query(batch_id=batch.pk, status=state.job_status, msg_status=state.msg_status)


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


def publish_job_finished_record(*, account: OfficialAccount, result: PublicationResult) -> None:
    """PUBLISHJOBFINISH: the publication's outcome and article URLs onto its publish-only push."""
    push = Push.objects.filter(account=account, publish_id=result.publish_id).only("pk").first()
    if push is None:
        logger.info("PUBLISHJOBFINISH for %s publish_id %r: no push", account.appid, result.publish_id)
        return
    push_publication_result_apply(push_id=push.pk, result=result)


@transaction.atomic
def push_publication_result_apply(*, push_id: int, result: PublicationResult) -> None:
    """A publication's outcome (from PUBLISHJOBFINISH or freepublish/get); a push already settled stays as is."""
    push = Push.objects.select_for_update().get(pk=push_id)
    if push.status != PushStatus.SENDING or result.pending:
        return
    if result.published:
        _article_urls_set(push.pk, result.article_urls)
        push_status_set(push=push, to_status=PushStatus.SENT)
        return
    push_status_set(push=push, to_status=PushStatus.FAILED, reason=_publication_failure_words(push, result))


def _publication_failure_words(push: Push, result: PublicationResult) -> str:
    """The failure as staff read it, naming the articles WeChat's fail_idx points at by their titles."""
    if not result.fail_idx:
        return result.failure_reason
    titles = dict(push.push_articles.values_list("position", "article__title"))
    named = ", ".join(f"{index}. “{titles.get(index, '?')}”" for index in result.fail_idx)
    return _("%(reason)s; the articles that failed: %(articles)s") % {
        "reason": result.failure_reason,
        "articles": named,
    }


def push_publication_check(*, push_id: int) -> None:
    """freepublish/get for a publish-only push whose PUBLISHJOBFINISH has not come (WeChat lost it, or we did)."""
    push = Push.objects.select_related("account").filter(pk=push_id).first()
    if push is None or push.status != PushStatus.SENDING or not push.publish_id:
        return
    result = publication_get(client_for_official_account(push.account), publish_id=push.publish_id)
    push_publication_result_apply(push_id=push.pk, result=result)
