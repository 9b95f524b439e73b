"""Celery entry points of articles. Thin: each calls services.

Pushes run on the `mass_send` queue, follower syncs on `followers` (CELERY_TASK_ROUTES).
"""

import logging
import random
from datetime import UTC, datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from articles.services.delivery import push_mass_send_results_check, push_publication_check
from articles.services.dispatch import (
    mass_send_results_unconfirmed,
    publications_unconfirmed,
    pushes_due_claim,
    pushes_stalled_claim,
)
from articles.services.followers import followers_sync
from articles.services.sending import push_send, push_send_give_up
from articles.services.statistics import statistics_sync
from wechat.errors import WeChatQuotaExhausted, WeChatRateLimited, WeChatTransientError
from wechat.models import OfficialAccount

logger = logging.getLogger(__name__)


# Idempotent (a run upserts what WeChat lists and skips while another holds the account), so a
# redelivered message is harmless. The service already retries each WeChat call; a run that
# still fails transiently is retried whole, later. A spent daily quota waits for tomorrow's run.
@shared_task(
    acks_late=True,
    autoretry_for=(WeChatTransientError,),
    dont_autoretry_for=(WeChatQuotaExhausted,),
    retry_backoff=300,
    retry_backoff_max=3600,
    max_retries=3,
)
def sync_account_followers(account_id: int) -> int:
    account = OfficialAccount.objects.filter(pk=account_id).first()
    if account is None:
        return 0
    return followers_sync(account=account).followers


@shared_task
def sync_followers_of_every_account() -> int:
    """Beat's daily entry: one sync task per account, so accounts sync side by side and fail alone."""
    account_ids = list(OfficialAccount.objects.values_list("pk", flat=True))
    for account_id in account_ids:
        sync_account_followers.delay(account_id)
    return len(account_ids)


# Idempotent (days are upserted and marked done together), so a redelivered message is harmless.
# A run that fails transiently is retried whole; it resumes at the first day not yet stored.
@shared_task(
    acks_late=True,
    autoretry_for=(WeChatTransientError,),
    dont_autoretry_for=(WeChatQuotaExhausted,),
    retry_backoff=300,
    retry_backoff_max=3600,
    max_retries=3,
)
def sync_account_statistics(account_id: int) -> int:
    account = OfficialAccount.objects.filter(pk=account_id).first()
    if account is None:
        return 0
    return len(statistics_sync(account=account).days)


@shared_task
def sync_statistics_of_every_account() -> int:
    """Beat's daily entry, after WeChat has finished yesterday: one statistics sync task per account."""
    account_ids = list(OfficialAccount.objects.values_list("pk", flat=True))
    for account_id in account_ids:
        sync_account_statistics.delay(account_id)
    return len(account_ids)


@shared_task(bind=True, acks_late=True, max_retries=None)
def send_push(self, push_id: int) -> None:
    """Run the push's remaining send steps. Idempotent, so a redelivered message (acks_late) is safe.

    Transient WeChat errors retry with exponential backoff up to PUSH_SEND_MAX_RETRIES
    times; then the push stops through the status service with the last error.
    """
    try:
        push_send(push_id=push_id)
    except WeChatTransientError as error:
        retries = self.request.retries
        if retries >= settings.PUSH_SEND_MAX_RETRIES:
            push_send_give_up(
                push_id=push_id,
                reason=_("WeChat stayed unavailable after %(retries)s retries: %(error)s")
                % {"retries": retries, "error": error},
            )
            return
        countdown = push_send_retry_countdown(error, retries=retries)
        logger.warning("push %s: %s; retry %d in %.1fs", push_id, error, retries + 1, countdown)
        raise self.retry(exc=error, countdown=countdown) from error


def push_send_retry_countdown(error: WeChatTransientError, *, retries: int) -> float:
    """Seconds before the send's next try: exponential backoff, jittered, but never sooner than WeChat asks.

    A rate limit says when to come back: 45066 (群发接口和原创校验: the same clientmsgid retried
    too fast) and 45011 "retry next minute", 45009 at Beijing midnight (WeChatRateLimited.retry_after).
    """
    backoff = min(settings.PUSH_SEND_RETRY_MAX_SECONDS, settings.PUSH_SEND_RETRY_BASE_SECONDS * 2**retries)
    countdown = backoff * random.uniform(0.5, 1.0)  # jitter: workers retrying together spread out
    if isinstance(error, WeChatRateLimited):
        countdown = max(countdown, error.retry_after)
    return countdown


@shared_task
def check_publication(push_id: int) -> None:
    push_publication_check(push_id=push_id)


@shared_task
def check_mass_send_results(push_id: int, accepted_before: float) -> None:
    push_mass_send_results_check(push_id=push_id, accepted_before=datetime.fromtimestamp(accepted_before, UTC))


@shared_task
def dispatch_pushes() -> None:
    """Every minute (beat): send due pushes, resume stalled ones, ask WeChat about results that never came."""
    now = timezone.now()
    with transaction.atomic():
        for push_id in pushes_due_claim(now=now):
            send_push.delay_on_commit(push_id)
        stalled_for = timedelta(seconds=settings.PUSH_SEND_STALLED_SECONDS)
        for push_id in pushes_stalled_claim(now=now, stalled_for=stalled_for):
            logger.warning("push %s: no progress for %s; resuming", push_id, stalled_for)
            send_push.delay_on_commit(push_id)
    for push_id in publications_unconfirmed(now=now, waited=timedelta(seconds=settings.PUSH_PUBLICATION_WAIT_SECONDS)):
        check_publication.delay(push_id)
    result_wait = timedelta(seconds=settings.PUSH_MASS_SEND_RESULT_WAIT_SECONDS)
    for push_id in mass_send_results_unconfirmed(now=now, waited=result_wait):
        check_mass_send_results.delay(push_id, (now - result_wait).timestamp())
