"""Followers and tags of an Official Account, kept current by WeChat's events and a full sync.

Events (接收事件推送 / 关注/取消关注事件) say who subscribed or left and when (CreateTime);
WeChat retries a push it thinks unanswered and may deliver pushes out of order, so an
event changes a follower only when it is newer than everything we know of them.

The sync (用户管理: user/get 10,000 openids a page, user/info/batchget 100 a call,
tags/get) writes one page at a time (follower_store: COPY into a staging table, then one
INSERT or an upsert that leaves unchanged rows alone), so its memory does not grow with
the follower count; at the end one UPDATE marks followers it did not see as unsubscribed.
A page's batchget calls are made FOLLOWER_SYNC_CONCURRENCY at a time from a
thread pool (a wechatpy client, so an HTTP session, per thread; the access token is the
shared one), the next page's user/get is asked for as soon as this page's next_openid is
known, and a page is written while the next page's batchget calls run: at most two pages
are held. WeChat documents daily quotas for these calls (接口调用频次限制说明: 获取关注者列表
500 a day, 获取用户基本信息 5,000,000), no limit on concurrent calls; a 200,000-follower sync
makes 21 user/get and 2,000 batchget calls. WeChat is never called inside a transaction.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from articles.models import Follower, FollowerSyncRun, FollowerTag
from articles.services.follower_store import OPENID_MAX_LENGTH, FollowerSyncWriter
from articles.services.follower_sync_status import follower_sync_run_finish
from wechat.clients import SharedTokenClient, client_for_official_account
from wechat.errors import WeChatQuotaExhausted, WeChatRateLimited, WeChatTransientError
from wechat.models import OfficialAccount
from wechat.official_account_followers import (
    INFO_BATCH_SIZE,
    FollowerInfo,
    FollowerSubscriptionChange,
    OpenidPage,
    TagInfo,
    follower_infos,
    follower_openids_page,
    follower_tags,
)

logger = logging.getLogger(__name__)
T = TypeVar("T")

# Waits before each retry of a WeChat call that failed transiently (busy, unreachable, rate
# limited): a 200,000-follower sync makes ~2,000 calls, and one busy answer must not
# restart it. After the last, the error reaches the task, which retries the whole run.
RETRY_DELAYS_SECONDS: tuple[float, ...] = (1, 2, 4, 8, 16)
# How long each of the sync's threads reuses the shared access token before reading it again (SharedTokenClient).
TOKEN_REUSE_SECONDS = 1.0
# A run of a large account takes minutes; a second one for the same account meanwhile is skipped.
SYNC_LOCK_SECONDS = 3 * 60 * 60
TAG_NAME_MAX_LENGTH = FollowerTag._meta.get_field("name").max_length


@dataclass(frozen=True)
class FollowersSyncResult:
    followers: int = 0  # subscribed followers written
    unsubscribed: int = 0  # followers marked unsubscribed because WeChat no longer lists them
    tags: int = 0
    skipped: bool = False  # another run for the account held the lock


# --- events -------------------------------------------------------------------------------------


@transaction.atomic
def follower_subscription_record(*, account: OfficialAccount, openid: str, subscribed: bool, at: datetime) -> Follower:
    """A subscribe (`subscribed`) or unsubscribe that happened `at`; a repeat or an older event changes nothing."""
    follower, created = Follower.objects.select_for_update().get_or_create(
        account=account,
        openid=openid,
        defaults={
            "is_subscribed": subscribed,
            "subscribed_at": at if subscribed else None,
            "unsubscribed_at": None if subscribed else at,
        },
    )
    if created:
        return follower
    known = [moment for moment in (follower.subscribed_at, follower.unsubscribed_at) if moment is not None]
    if known and at <= max(known):
        return follower
    follower.is_subscribed = subscribed
    if subscribed:
        follower.subscribed_at = at
        follower.save(update_fields=["is_subscribed", "subscribed_at"])
    else:
        follower.unsubscribed_at = at
        follower.save(update_fields=["is_subscribed", "unsubscribed_at"])
    return follower


def follower_event_received(sender, *, account: OfficialAccount, event: FollowerSubscriptionChange, **kwargs) -> None:
    """Receiver of wechat.signals.official_account_event_received: subscribe/unsubscribe update the follower."""
    if len(event.openid) > OPENID_MAX_LENGTH:
        # Signed by WeChat yet not an openid we can keep: nothing to record, and WeChat must still get its "success".
        logger.warning("ignored a subscription event with an openid of %d characters", len(event.openid))
        return
    follower_subscription_record(account=account, openid=event.openid, subscribed=event.subscribed, at=event.at)


# --- sync ---------------------------------------------------------------------------------------


def followers_sync(
    *, account: OfficialAccount, retry_delays: Sequence[float] = RETRY_DELAYS_SECONDS
) -> FollowersSyncResult:
    """Make the account's followers and tags what WeChat lists now; skipped while another run holds the account."""
    lock_key, holder = f"articles:followers-sync:{account.pk}", uuid.uuid4().hex
    if not cache.add(lock_key, holder, timeout=SYNC_LOCK_SECONDS):
        logger.info("followers of %s are already being synced; skipped", account.appid)
        return FollowersSyncResult(skipped=True)
    run = FollowerSyncRun.objects.create(account=account)
    try:
        with _heap_frozen():
            result = _sync(account=account, retry_delays=retry_delays)
    except Exception as error:
        # Recorded for staff (the followers admin shows the last sync), then raised for the task to retry.
        _sync_run_finish(run=run, status=FollowerSyncRun.Status.FAILED, error=str(error) or type(error).__name__)
        raise
    finally:
        if cache.get(lock_key) == holder:
            cache.delete(lock_key)
    _sync_run_finish(run=run, status=FollowerSyncRun.Status.SUCCEEDED, result=result)
    return result


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """The objects the process holds before the sync are left out of the garbage collector's passes until it ends.

    A sync allocates many short-lived objects (each answer's dicts), so the collector runs often, and its
    full passes walked the whole process (Django, its modules, the worker's own state) every time; frozen,
    they are not walked, and at the end they go back to the oldest generation, collectable as before.
    Nothing is lost: an object frozen here that became garbage meanwhile is collected after the sync.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _sync_run_finish(
    *, run: FollowerSyncRun, status: str, result: FollowersSyncResult | None = None, error: str = ""
) -> None:
    result = result or FollowersSyncResult()
    follower_sync_run_finish(
        run_id=run.pk,
        to_status=status,
        reason=error,
        fields={"followers": result.followers, "unsubscribed": result.unsubscribed, "tags": result.tags},
    )


def _sync(*, account: OfficialAccount, retry_delays: Sequence[float]) -> FollowersSyncResult:
    started_at = timezone.now()
    client = client_for_official_account(account)
    tags = follower_tags_store(account=account, tags=wechat_call_patiently(lambda: follower_tags(client), retry_delays))
    # An account's first sync has no rows to update: its pages may be COPied straight in (follower_store).
    fresh = not Follower.objects.filter(account=account).exists()
    written = 0
    pool = ThreadPoolExecutor(max_workers=settings.FOLLOWER_SYNC_CONCURRENCY, thread_name_prefix="follower-sync")
    with FollowerSyncWriter(account_id=account.pk, synced_at=started_at, fresh=fresh) as writer:
        try:
            pending: list[Future] = []
            for batches in _page_batches(account=account, pool=pool, retry_delays=retry_delays):
                # This page's batchget calls are under way: write the previous page meanwhile.
                written += _batches_write(writer, pending)
                pending = batches
            written += _batches_write(writer, pending)
        finally:
            # After a failure, calls not yet started are dropped; those under way finish (at most the pool's size).
            pool.shutdown(wait=True, cancel_futures=True)
        unsubscribed = writer.unseen_unsubscribe()
    logger.info("synced %s: %d followers, %d left, %d tags", account.appid, written, unsubscribed, tags)
    return FollowersSyncResult(followers=written, unsubscribed=unsubscribed, tags=tags)


def _page_batches(
    *, account: OfficialAccount, pool: ThreadPoolExecutor, retry_delays: Sequence[float]
) -> Iterator[list[Future]]:
    """For each user/get page in order, its batchget calls submitted to `pool` (futures of their infos, in order).

    The next page is asked for as soon as this one's last openid is known, ahead of this page's batchget calls.
    Once a call has failed past its retries the run is lost: calls not yet begun are not made (threads
    that finish their call would otherwise take the next before the run's thread stops the pool).
    """
    clients = threading.local()
    failures: list[Exception] = []  # the first call that failed past its retries

    def client() -> SharedTokenClient:
        # One client per thread: each has its own requests session (connection pool); the token is shared.
        if not hasattr(clients, "client"):
            clients.client = client_for_official_account(account)
            # The pool's threads live for this run only, and so does what is set on their clients.
            clients.client.token_reuse_seconds = TOKEN_REUSE_SECONDS
        return clients.client

    def unless_failed(call: Callable[[], T]) -> T:
        if failures:
            # Its error, whichever call the run's thread waits on: the task retries by the error's kind.
            raise failures[0]
        try:
            return wechat_call_patiently(call, retry_delays)
        except Exception as error:
            failures.append(error)
            raise

    def page_after(after: str) -> OpenidPage:
        return unless_failed(lambda: follower_openids_page(client(), after=after))

    def infos_of(openids: list[str]) -> list[FollowerInfo]:
        return unless_failed(lambda: follower_infos(client(), openids=openids))

    next_page = pool.submit(page_after, "")
    while True:
        page = next_page.result()
        if not page.openids:
            return
        next_page = pool.submit(page_after, page.next_openid or page.openids[-1])
        yield [
            pool.submit(infos_of, page.openids[start : start + INFO_BATCH_SIZE])
            for start in range(0, len(page.openids), INFO_BATCH_SIZE)
        ]


def _batches_write(writer: FollowerSyncWriter, batches: list[Future]) -> int:
    if not batches:
        return 0
    return writer.page_write([info for batch in batches for info in batch.result()])


@transaction.atomic
def follower_tags_store(*, account: OfficialAccount, tags: list[TagInfo]) -> int:
    """The account's tags become exactly `tags` (at most 100, as WeChat allows); returns how many."""
    FollowerTag.objects.bulk_create(
        [
            FollowerTag(
                account=account,
                tag_id=tag.tag_id,
                name=tag.name[:TAG_NAME_MAX_LENGTH],
                follower_count=tag.follower_count,
            )
            for tag in tags
        ],
        update_conflicts=True,
        unique_fields=["account", "tag_id"],
        update_fields=["name", "follower_count"],
    )
    FollowerTag.objects.filter(account=account).exclude(tag_id__in=[tag.tag_id for tag in tags]).delete()
    return len(tags)


def wechat_call_patiently(call: Callable[[], T], retry_delays: Sequence[float]) -> T:
    """`call`, retried after each delay while WeChat fails transiently; a spent daily quota is not waited out."""
    for delay in retry_delays:
        try:
            return call()
        except WeChatQuotaExhausted:
            raise
        except WeChatTransientError as error:
            # WeChat refuses again within the minute (45011): waiting less would waste the retry.
            wait = max(delay, error.retry_after) if isinstance(error, WeChatRateLimited) else delay
            logger.warning("WeChat failed transiently (%s); retrying in %.1fs", error, wait)
            time.sleep(wait)
    return call()
