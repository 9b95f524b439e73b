"""WeChat's statistics of an account's articles and followers, fetched a Beijing day at a time and kept.

The unit is one day of one account: its four datacube answers (wechat/official_account_statistics.py)
are fetched first, outside any transaction, then stored in one transaction together with the
StatisticsDay row that marks the day done. So a run that stops midway leaves whole days behind
it, and the next run starts from the first day not marked. Rows are upserted on their unique
keys, so running a day again (two beats, a redelivered task) rewrites the same rows.

Which days: from STATISTICS_CATCH_UP_DAYS before the latest ready day to it, those not yet
done, oldest first. The latest ready day is yesterday once WeChat has finished it (after 8:00
Beijing time), else the day before.

Per day (最大时间跨度: 1 day for the article endpoints, 7 for the follower ones):
- getarticlesummary for the day: each mass-sent article's figures on that day;
- getarticletotal for the day and the six before it: the articles sent on each of those days,
  with their figures accumulated up to the latest ready day (details, one per stat_date). An
  article sent within the week keeps growing; asking each send day again keeps its rows current;
- getusersummary and getusercumulate for the day.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from articles.models import (
    ArticleDailyStatistics,
    ArticleTotalStatistics,
    FollowerDailyStatistics,
    FollowerSourceDailyStatistics,
    StatisticsDay,
)
from articles.services.followers import RETRY_DELAYS_SECONDS, wechat_call_patiently
from wechat.clients import SharedTokenClient, client_for_official_account
from wechat.models import OfficialAccount
from wechat.official_account_statistics import (
    ARTICLE_FIGURES,
    ArticleDay,
    ArticleTotalDay,
    FollowerSourceDay,
    FollowerTotalDay,
    article_days,
    article_total_days,
    beijing_today,
    follower_source_days,
    follower_total_days,
    latest_ready_day,
)

logger = logging.getLogger(__name__)

# getarticletotal's details cover a send's first seven days (its send day and six after).
ARTICLE_TOTAL_DAYS = 7
SYNC_LOCK_SECONDS = 60 * 60
TITLE_MAX_LENGTH = ArticleDailyStatistics._meta.get_field("title").max_length
MSGID_MAX_LENGTH = ArticleDailyStatistics._meta.get_field("msgid").max_length


@dataclass(frozen=True)
class StatisticsSyncResult:
    days: tuple[date, ...] = ()  # the days stored by this run, oldest first
    skipped: bool = False  # another run for the account held the lock


@dataclass(frozen=True)
class StatisticsOfDay:
    """What WeChat answered for one day, ready to store."""

    day: date
    articles: list[ArticleDay]
    article_totals: list[ArticleTotalDay]
    follower_sources: list[FollowerSourceDay]
    follower_totals: list[FollowerTotalDay]


def statistics_days_missing(*, account: OfficialAccount, latest: date, catch_up_days: int) -> list[date]:
    """The days from `catch_up_days` before `latest` to it that are not stored yet, oldest first."""
    first = latest - timedelta(days=catch_up_days - 1)
    done = set(StatisticsDay.objects.filter(account=account, day__range=(first, latest)).values_list("day", flat=True))
    return [day for offset in range(catch_up_days) if (day := first + timedelta(days=offset)) not in done]


def statistics_sync(
    *,
    account: OfficialAccount,
    now: datetime | None = None,
    catch_up_days: int | None = None,
    retry_delays: Sequence[float] = RETRY_DELAYS_SECONDS,
) -> StatisticsSyncResult:
    """Store every missing day up to the latest WeChat has finished; skipped while another run holds the account.

    A WeChat error stops the run after the days already stored; they stay done, and the next run
    resumes at the day that failed.
    """
    now = now or timezone.now()
    catch_up_days = catch_up_days or settings.STATISTICS_CATCH_UP_DAYS
    lock_key, holder = f"articles:statistics-sync:{account.pk}", uuid.uuid4().hex
    if not cache.add(lock_key, holder, timeout=SYNC_LOCK_SECONDS):
        logger.info("statistics of %s are already being synced; skipped", account.appid)
        return StatisticsSyncResult(skipped=True)
    stored: list[date] = []
    try:
        latest = latest_ready_day(now)
        client = client_for_official_account(account)
        for day in statistics_days_missing(account=account, latest=latest, catch_up_days=catch_up_days):
            fetched = statistics_of_day_fetch(
                client=client, day=day, latest=latest, today=beijing_today(now), retry_delays=retry_delays
            )
            statistics_of_day_store(account=account, statistics=fetched, synced_at=now)
            stored.append(day)
    finally:
        if cache.get(lock_key) == holder:
            cache.delete(lock_key)
        logger.info("statistics of %s: stored %d day(s)", account.appid, len(stored))
    return StatisticsSyncResult(days=tuple(stored))


def statistics_of_day_fetch(
    *, client: SharedTokenClient, day: date, latest: date, today: date, retry_delays: Sequence[float]
) -> StatisticsOfDay:
    """The four datacube answers for `day` (getarticletotal for each send day of the week up to it)."""

    def patiently(call):
        return wechat_call_patiently(call, retry_delays)

    send_days = [day - timedelta(days=back) for back in range(ARTICLE_TOTAL_DAYS - 1, -1, -1)]
    return StatisticsOfDay(
        day=day,
        articles=patiently(lambda: article_days(client, begin=day, end=day, today=today)),
        article_totals=[
            total
            for sent_on in send_days
            for total in patiently(
                lambda sent_on=sent_on: article_total_days(client, begin=sent_on, end=sent_on, today=today)
            )
            if total.stat_date <= latest
        ],
        follower_sources=patiently(lambda: follower_source_days(client, begin=day, end=day, today=today)),
        follower_totals=patiently(lambda: follower_total_days(client, begin=day, end=day, today=today)),
    )


@transaction.atomic
def statistics_of_day_store(*, account: OfficialAccount, statistics: StatisticsOfDay, synced_at: datetime) -> None:
    """Upsert the day's rows and mark it done, together: a day is stored whole or not at all."""
    ArticleDailyStatistics.objects.bulk_create(
        [
            ArticleDailyStatistics(
                account=account,
                day=item.ref_date,
                title=item.title[:TITLE_MAX_LENGTH],
                **_msgid_fields(item.msgid),
                **item.figures,
            )
            for item in statistics.articles
            if len(item.msgid) <= MSGID_MAX_LENGTH
        ],
        update_conflicts=True,
        unique_fields=["account", "day", "msgid"],
        update_fields=["title", *ARTICLE_FIGURES],
    )
    ArticleTotalStatistics.objects.bulk_create(
        [
            ArticleTotalStatistics(
                account=account,
                title=item.title[:TITLE_MAX_LENGTH],
                sent_on=item.sent_on,
                stat_date=item.stat_date,
                target_user=item.target_user,
                details=item.details,
                **_msgid_fields(item.msgid),
                **item.figures,
            )
            for item in statistics.article_totals
            if len(item.msgid) <= MSGID_MAX_LENGTH
        ],
        update_conflicts=True,
        unique_fields=["account", "msgid", "stat_date"],
        update_fields=["title", "sent_on", "target_user", "details", *ARTICLE_FIGURES],
    )
    FollowerSourceDailyStatistics.objects.bulk_create(
        [
            FollowerSourceDailyStatistics(
                account=account,
                day=item.ref_date,
                user_source=item.user_source,
                new_user=item.new_user,
                cancel_user=item.cancel_user,
            )
            for item in statistics.follower_sources
        ],
        update_conflicts=True,
        unique_fields=["account", "day", "user_source"],
        update_fields=["new_user", "cancel_user"],
    )
    FollowerDailyStatistics.objects.bulk_create(
        [
            FollowerDailyStatistics(account=account, day=item.ref_date, cumulate_user=item.cumulate_user)
            for item in statistics.follower_totals
        ],
        update_conflicts=True,
        unique_fields=["account", "day"],
        update_fields=["cumulate_user"],
    )
    StatisticsDay.objects.update_or_create(account=account, day=statistics.day, defaults={"synced_at": synced_at})


def _msgid_fields(msgid: str) -> dict:
    """msgid "<msg_data_id>_<index>" split, so a row can be matched to its send and article; kept whole as well."""
    msg_data_id, separator, index = msgid.rpartition("_")
    if not separator or not index.isdigit() or not msg_data_id:
        return {"msgid": msgid, "msg_data_id": "", "article_index": None}
    return {"msgid": msgid, "msg_data_id": msg_data_id[:32], "article_index": int(index)}
