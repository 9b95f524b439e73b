"""Reads for the marketing home page: quota left, the pushes ahead, the reach of the last ones, follower growth.

Each selector runs a fixed number of queries whatever the number of accounts, pushes or followers,
so the home page stays fast as the data grows (tests/articles/test_home_selectors.py counts them).
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, IntegerField, OuterRef, QuerySet, Subquery, Sum
from django.db.models.expressions import CombinedExpression
from django.db.models.functions import Coalesce, TruncDate

from articles.models import Follower, Push, PushBatch, PushMode, PushStatus
from articles.quota_windows import BEIJING
from articles.selectors import QuotaWindowUsage, quota_windows_for_accounts
from wechat.models import OfficialAccount

# The reach chart's statuses: pushes WeChat has finished with, whatever the outcome.
REACH_STATUSES = (PushStatus.SENT, PushStatus.PARTLY_SENT, PushStatus.FAILED)


@dataclass(frozen=True)
class AccountMassSendsLeft:
    """One account's mass sends in the quota window holding now and in the one after it."""

    account: OfficialAccount
    this_window: QuotaWindowUsage
    next_window: QuotaWindowUsage


def mass_sends_left_by_account(*, at: datetime) -> list[AccountMassSendsLeft]:
    """Every account's quota, this window and next, in three queries for all accounts."""
    accounts = list(OfficialAccount.objects.order_by("name", "pk"))
    windows = quota_windows_for_accounts(accounts=accounts, at=at, count=2)
    return [
        AccountMassSendsLeft(account=account, this_window=windows[account.pk][0], next_window=windows[account.pk][1])
        for account in accounts
    ]


def pushes_next_scheduled(*, at: datetime, limit: int = 5) -> QuerySet[Push]:
    """The next `limit` pushes due to go out, soonest first, with their account."""
    return (
        Push.objects.filter(status=PushStatus.SCHEDULED, scheduled_at__gte=at - timedelta(hours=1))
        .select_related("account")
        .order_by("scheduled_at", "pk")[:limit]
    )


def _batches_sum(amount: str | CombinedExpression) -> Coalesce:
    sums = PushBatch.objects.filter(push=OuterRef("pk")).values("push").annotate(total=Sum(amount)).values("total")
    return Coalesce(Subquery(sums, output_field=IntegerField()), 0)


# MASSSENDJOBFINISH's FilterCount is how many followers remain *after* WeChat's filtering (region, gender,
# refusals, more than four mass messages this month) and are to receive it: 事件推送群发结果, "过滤……后，
# 准备发送的粉丝数，原则上，FilterCount 约等于 SentCount + ErrorCount". Those filtered out are the rest.
FILTERED_OUT = F("total_count") - F("filter_count")


def pushes_last_reach(*, limit: int = 10) -> list[Push]:
    """The last `limit` finished mass sends, oldest first (a chart reads left to right), each annotated
    with `sent`, `filtered` (held back by WeChat's filtering) and `errors` summed over its batches as
    MASSSENDJOBFINISH reported them."""
    pushes = (
        Push.objects.filter(status__in=REACH_STATUSES, mode=PushMode.MASS_SEND, sent_at__isnull=False)
        .annotate(sent=_batches_sum("sent_count"), filtered=_batches_sum(FILTERED_OUT))
        .annotate(errors=_batches_sum("error_count"))
        .order_by("-sent_at", "-pk")[:limit]
    )
    return list(reversed(pushes))


@dataclass(frozen=True)
class FollowerGrowth:
    """Followers of all accounts now, and per Beijing day of the period the new and lost ones."""

    following_now: int
    days: list[date]
    subscribed: list[int]
    unsubscribed: list[int]

    @property
    def net_change(self) -> int:
        return sum(self.subscribed) - sum(self.unsubscribed)


def _per_beijing_day(followers: QuerySet[Follower], field: str, since: datetime) -> dict[date, int]:
    rows = (
        followers.filter(**{f"{field}__gte": since})
        .annotate(day=TruncDate(field, tzinfo=BEIJING))
        .values("day")
        .annotate(count=Count("pk"))
        .values_list("day", "count")
    )
    return dict(rows)


def follower_growth(*, at: datetime, days: int = 30) -> FollowerGrowth:
    """The last `days` Beijing days up to `at`'s, in three queries."""
    today = at.astimezone(BEIJING).date()
    period = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    since = datetime.combine(period[0], time(), BEIJING)
    subscribed = _per_beijing_day(Follower.objects.all(), "subscribed_at", since)
    # Someone who left is counted on the day they left; the follower row stays, marked unsubscribed.
    unsubscribed = _per_beijing_day(Follower.objects.filter(is_subscribed=False), "unsubscribed_at", since)
    return FollowerGrowth(
        following_now=Follower.objects.filter(is_subscribed=True).count(),
        days=period,
        subscribed=[subscribed.get(day, 0) for day in period],
        unsubscribed=[unsubscribed.get(day, 0) for day in period],
    )
