"""Reads about articles and pushes shared by the admin, its preview pages and the scheduling services."""

import calendar
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import DateTimeField, Exists, F, OuterRef, PositiveIntegerField, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from articles.models import ConsoleMassSend, MassSendQuotaSpent, Push, PushAudience, PushBatch, PushMode, PushStatus
from articles.quota_windows import (
    BEIJING,
    mass_send_uses_quota,
    quota_limit,
    quota_window_label,
    quota_window_next_start,
    quota_window_start,
)
from wechat.models import OfficialAccount

# Shown when no Official Account has been added yet.
PREVIEW_ACCOUNT_PLACEHOLDER = "Official Account"

# Pushes that WeChat has taken or will take. A failed push counts too once WeChat accepted
# one of its batches: that send used the quota whatever happened after.
QUOTA_COUNTED_STATUSES = (PushStatus.SCHEDULED, PushStatus.SENDING, PushStatus.SENT, PushStatus.PARTLY_SENT)
# How far ahead the next free window is looked for: past this, something is badly wrong.
QUOTA_WINDOWS_SEARCHED = 5000
# What the push calendar shows: pushes that are going out or have gone.
CALENDAR_STATUSES = [
    PushStatus.SCHEDULED,
    PushStatus.SENDING,
    PushStatus.SENT,
    PushStatus.PARTLY_SENT,
    PushStatus.FAILED,
]


def article_preview_account_name() -> str:
    """The name followers see above an article: the first Official Account's, until pushes pick theirs."""
    name = OfficialAccount.objects.order_by("pk").values_list("name", flat=True).first()
    return name or PREVIEW_ACCOUNT_PLACEHOLDER


def pushes_with_send_time() -> QuerySet[Push]:
    """Pushes annotated with `send_time`: when WeChat first accepted a batch, else when it is scheduled.

    A push scheduled for 23:59 may reach WeChat after midnight; WeChat counts it in the window it
    arrived in, so once that is known it is the time that counts.
    """
    first_accepted = (
        PushBatch.objects.filter(push=OuterRef("pk"), accepted_at__isnull=False)
        .order_by("accepted_at")
        .values("accepted_at")[:1]
    )
    return Push.objects.annotate(
        send_time=Coalesce(Subquery(first_accepted, output_field=DateTimeField()), F("scheduled_at"))
    )


def _push_batches_sum(field: str) -> Subquery:
    # A subquery, not a join: the changelist's counts and date hierarchy stay plain queries on pushes.
    sums = PushBatch.objects.filter(push=OuterRef("pk")).values("push").annotate(total=Sum(field)).values("total")
    return Subquery(sums, output_field=PositiveIntegerField())


def pushes_with_batch_totals(*, pushes: QuerySet[Push]) -> QuerySet[Push]:
    """`pushes` annotated with `total_sent` and `total_reached`, summed over their batches (None before any)."""
    return pushes.annotate(total_sent=_push_batches_sum("sent_count"), total_reached=_push_batches_sum("total_count"))


def push_calendar_weeks(*, account: OfficialAccount, month: date) -> list[list[dict]]:
    """The push calendar of `account` for the month starting on `month`, in Beijing days.

    Weeks of days (Monday first, with the neighbouring months' days that fill them); each day
    with its pushes, by when WeChat took or will take them, and whether WeChat said its quota
    window was spent.
    """
    first = datetime.combine(month, time(), BEIJING)
    end = datetime.combine((month + timedelta(days=32)).replace(day=1), time(), BEIJING)
    pushes = (
        pushes_with_send_time()
        .filter(account=account, status__in=CALENDAR_STATUSES, send_time__gte=first, send_time__lt=end)
        .annotate(total_sent=_push_batches_sum("sent_count"))
        .order_by("send_time", "pk")
    )
    by_day: dict[date, list] = defaultdict(list)
    for push in pushes:
        # A service account's sends to a tag or a list are not in its monthly four (群发接口和原创校验, 前言).
        push.uses_quota = push.mode == PushMode.MASS_SEND and mass_send_uses_quota(
            account_type=account.account_type, audience=push.audience
        )
        by_day[push.send_time.astimezone(BEIJING).date()].append(push)
    console_by_day: dict[date, list] = defaultdict(list)
    for _, sent_at in _console_send_times(account_ids=[account.pk], since=first, until=end):
        console_by_day[sent_at.astimezone(BEIJING).date()].append(sent_at)
    # A service account's window is the month, marked on its first day: shade every day it covers.
    spent = set(
        MassSendQuotaSpent.objects.filter(
            account=account, window_start__gte=month, window_start__lt=end.date()
        ).values_list("window_start", flat=True)
    )
    weeks = []
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month):
        weeks.append(
            [
                {
                    "date": day,
                    "in_month": day.month == month.month,
                    "pushes": by_day.get(day, []),
                    "console_sends": sorted(console_by_day.get(day, [])),
                    "spent_at_wechat": quota_window_start(
                        account_type=account.account_type, at=datetime.combine(day, time(12), BEIJING)
                    )
                    in spent,
                }
                for day in week
            ]
        )
    return weeks


def mass_sends_counted() -> QuerySet[Push]:
    """Mass-send pushes that use quota, with their `send_time`.

    A service account's sends to a tag or an openid list are not counted (群发接口和原创校验, 前言;
    articles/quota_windows.py: mass_send_uses_quota).
    """
    accepted = PushBatch.objects.filter(push=OuterRef("pk"), accepted_at__isnull=False)
    return (
        pushes_with_send_time()
        .filter(Q(status__in=QUOTA_COUNTED_STATUSES) | Exists(accepted), mode=PushMode.MASS_SEND)
        .exclude(Q(account__account_type=OfficialAccount.AccountType.SERVICE) & ~Q(audience=PushAudience.ALL))
    )


def _console_send_times(*, account_ids: Iterable[int], since: datetime, until: datetime | None = None) -> list:
    """(account_id, sent_at) of sends staff recorded from WeChat's console: they use quota too."""
    sends = ConsoleMassSend.objects.filter(account_id__in=account_ids, sent_at__gte=since)
    if until is not None:
        sends = sends.filter(sent_at__lt=until)
    return list(sends.values_list("account_id", "sent_at"))


@dataclass(frozen=True)
class QuotaWindowUsage:
    """One account's mass sends in one quota window (a Beijing day or month)."""

    account_type: str
    start: date
    limit: int
    used: int
    # WeChat answered 45028 in this window: the quota went elsewhere (its web console, another tool).
    spent_at_wechat: bool

    @property
    def remaining(self) -> int:
        return 0 if self.spent_at_wechat else max(0, self.limit - self.used)

    @property
    def label(self) -> str:
        return quota_window_label(account_type=self.account_type, start=self.start)

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.start, time(), BEIJING)


def _window_starts(*, account_type: str, first: date, count: int) -> list[date]:
    starts = [first]
    while len(starts) < count:
        starts.append(quota_window_next_start(account_type=account_type, start=starts[-1]))
    return starts


def quota_windows_for_accounts(
    *, accounts: Iterable[OfficialAccount], at: datetime, count: int = 2, exclude_push_id: int | None = None
) -> dict[int, list[QuotaWindowUsage]]:
    """For each account, the window holding `at` and the `count - 1` after it, in two queries for all accounts."""
    accounts = list(accounts)
    if not accounts:
        return {}
    starts_by_account = {
        account.pk: _window_starts(
            account_type=account.account_type,
            first=quota_window_start(account_type=account.account_type, at=at),
            count=count,
        )
        for account in accounts
    }
    earliest = min(datetime.combine(starts[0], time(), BEIJING) for starts in starts_by_account.values())
    latest_start = max(starts[-1] for starts in starts_by_account.values())
    # The latest window's end: a month after its start covers a day's or a month's window.
    latest_end = datetime.combine(
        quota_window_next_start(account_type=OfficialAccount.AccountType.SERVICE, start=latest_start), time(), BEIJING
    )
    counted = mass_sends_counted().filter(
        account_id__in=starts_by_account, send_time__gte=earliest, send_time__lt=latest_end
    )
    if exclude_push_id is not None:
        counted = counted.exclude(pk=exclude_push_id)
    types = {account.pk: account.account_type for account in accounts}
    sends = [
        *counted.values_list("account_id", "send_time"),
        *_console_send_times(account_ids=starts_by_account, since=earliest, until=latest_end),
    ]
    used = Counter(
        (account_id, quota_window_start(account_type=types[account_id], at=send_time))
        for account_id, send_time in sends
    )
    spent = set(
        MassSendQuotaSpent.objects.filter(
            account_id__in=starts_by_account, window_start__gte=earliest.date(), window_start__lte=latest_start
        ).values_list("account_id", "window_start")
    )
    return {
        account.pk: [
            QuotaWindowUsage(
                account_type=account.account_type,
                start=start,
                limit=quota_limit(account_type=account.account_type),
                used=used[(account.pk, start)],
                spent_at_wechat=(account.pk, start) in spent,
            )
            for start in starts_by_account[account.pk]
        ]
        for account in accounts
    }


def quota_window_usage(
    *, account: OfficialAccount, at: datetime, exclude_push_id: int | None = None
) -> QuotaWindowUsage:
    """The account's usage of the window holding `at`."""
    return quota_windows_for_accounts(accounts=[account], at=at, count=1, exclude_push_id=exclude_push_id)[account.pk][
        0
    ]


def quota_next_free_window(
    *, account: OfficialAccount, after: date, exclude_push_id: int | None = None
) -> QuotaWindowUsage | None:
    """The first window after the one starting on `after` with a mass send left, or None past the search horizon."""
    account_type = account.account_type
    start = quota_window_next_start(account_type=account_type, start=after)
    since = datetime.combine(start, time(), BEIJING)
    counted = mass_sends_counted().filter(account=account, send_time__gte=since)
    if exclude_push_id is not None:
        counted = counted.exclude(pk=exclude_push_id)
    send_times = [
        *counted.values_list("send_time", flat=True),
        *(sent_at for _, sent_at in _console_send_times(account_ids=[account.pk], since=since)),
    ]
    # Each window holds at most its limit of pushes, so this list stays short.
    used = Counter(quota_window_start(account_type=account_type, at=send_time) for send_time in send_times)
    spent = set(
        MassSendQuotaSpent.objects.filter(account=account, window_start__gte=start).values_list(
            "window_start", flat=True
        )
    )
    limit = quota_limit(account_type=account_type)
    for _ in range(QUOTA_WINDOWS_SEARCHED):
        if start not in spent and used[start] < limit:
            return QuotaWindowUsage(
                account_type=account_type, start=start, limit=limit, used=used[start], spent_at_wechat=False
            )
        start = quota_window_next_start(account_type=account_type, start=start)
    return None


def accounts_never_synced() -> QuerySet[OfficialAccount]:
    """Accounts whose followers were never synced from WeChat (no sync run at all): their counts read 0."""
    return OfficialAccount.objects.filter(follower_syncs__isnull=True).order_by("name", "pk")
