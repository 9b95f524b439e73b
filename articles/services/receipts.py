"""Each follower's mass sends this Beijing month, from our own records: WeChat drops a fifth for them.

群发接口和原创校验 (前言): "用户每月只能接收4条群发消息，多于4条的群发将对该用户发送失败" — a
service account's sends to a tag or a list are not limited in number, but a follower who has
had four this month receives no more. Counted when WeChat accepts a batch (articles/services/
sending.py), once per batch; sends made in WeChat's console are taken as sent to everyone.
"""

from collections.abc import Iterable
from datetime import datetime, time

from django.db import connection, transaction

from articles.models import ConsoleMassSend, Follower, FollowerMonthlyReceipts, Push, PushAudience
from articles.quota_windows import (
    BEIJING,
    RECEIPTS_PER_FOLLOWER_MONTH,
    beijing_month_start,
    quota_window_next_start,
)
from wechat.models import OfficialAccount

# Rows a statement upserts at once: well under SQLite's and PostgreSQL's parameter limits.
UPSERT_CHUNK = 500


def audience_openids(push: Push, *, openids: Iterable[str] | None = None) -> list[str]:
    """Who a batch reaches as far as we know: its openid list, or our synced followers of the tag or account."""
    if openids is not None:
        return list(openids)
    followers = Follower.objects.filter(account_id=push.account_id, is_subscribed=True)
    if push.audience == PushAudience.TAG:
        # tag_ids is a JSON list; filtered here so the same code runs on SQLite and PostgreSQL.
        return [openid for openid, tags in followers.values_list("openid", "tag_ids") if push.audience_tag_id in tags]
    return list(followers.values_list("openid", flat=True))


def receipts_record(*, account: OfficialAccount, openids: Iterable[str], at: datetime) -> None:
    """Add one mass send to each follower's count for the Beijing month holding `at`.

    One upsert per chunk, so concurrent sends of one account never lose a count. Call it in the
    transaction that stores the batch's msg_id, which is what makes it once per batch.
    """
    openids = list(dict.fromkeys(openids))
    month = beijing_month_start(at)
    table = FollowerMonthlyReceipts._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        for start in range(0, len(openids), UPSERT_CHUNK):
            chunk = openids[start : start + UPSERT_CHUNK]
            rows = ", ".join(["(%s, %s, %s, 1)"] * len(chunk))
            params = [value for openid in chunk for value in (account.pk, openid, month)]
            cursor.execute(
                f"INSERT INTO {table} (account_id, openid, month, count) VALUES {rows} "
                f"ON CONFLICT (account_id, openid, month) DO UPDATE SET count = {table}.count + 1",
                params,
            )


def console_sends_in_month(*, account: OfficialAccount, at: datetime) -> int:
    start = beijing_month_start(at)
    end = quota_window_next_start(account_type=OfficialAccount.AccountType.SERVICE, start=start)
    return ConsoleMassSend.objects.filter(
        account=account,
        sent_at__gte=datetime.combine(start, time(), BEIJING),
        sent_at__lt=datetime.combine(end, time(), BEIJING),
    ).count()


def followers_at_monthly_limit(*, push: Push, at: datetime) -> int:
    """How many of the push's audience have already received four mass sends in the Beijing month of `at`.

    WeChat would drop this push for them. Only a service account's followers are limited so.
    """
    if push.account.account_type != OfficialAccount.AccountType.SERVICE:
        return 0
    openids = None
    if push.audience == PushAudience.OPENIDS:
        openids = [line.strip() for line in push.audience_openids.splitlines() if line.strip()]
    members = audience_openids(push, openids=openids)
    # A console send is taken to have reached everyone: each one lowers everybody's room.
    threshold = RECEIPTS_PER_FOLLOWER_MONTH - console_sends_in_month(account=push.account, at=at)
    if threshold <= 0:
        return len(members)
    counted = FollowerMonthlyReceipts.objects.filter(
        account_id=push.account_id, month=beijing_month_start(at), count__gte=threshold
    ).values_list("openid", flat=True)
    full = set(counted)
    return sum(1 for openid in members if openid in full)
