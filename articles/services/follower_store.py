"""Writing one page of synced followers: on PostgreSQL a COPY into a staging table and one upsert from it.

A page is up to 10,000 followers (user/get's page). Django's bulk_create upsert sends them as one
INSERT with 70,000 parameters, each adapted in Python; COPY streams prebuilt tuples (psycopg
formats them in C) into a temporary table that lives for the page's transaction only (ON COMMIT
DROP), and PostgreSQL itself turns WeChat's epoch seconds and tag lists into the row's types.
An account's first sync (no follower rows when the run began: `fresh`) has nothing to update, so
each page is COPied straight into the table, as a bulk load is; should a row be there after all (a
subscribe event arrived meanwhile, or WeChat listed someone on two pages), the page's COPY is rolled
back to its savepoint and the page takes the upsert. Other databases (SQLite in `make test`) keep the
ORM's upsert; all write the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, connection, transaction

from articles.models import Follower
from wechat.official_account_followers import FollowerInfo

OPENID_MAX_LENGTH = Follower._meta.get_field("openid").max_length
NICKNAME_MAX_LENGTH = Follower._meta.get_field("nickname").max_length
SYNCED_FIELDS = ["nickname", "tag_ids", "is_subscribed", "subscribed_at", "synced_at"]
STAGING_TABLE = "articles_follower_sync_staging"
NO_TAGS = "[]"


def followers_page_write(
    *, account_id: int, infos: Iterable[FollowerInfo], synced_at: datetime, fresh: bool = False
) -> int:
    """Upsert the subscribed ones, stamped `synced_at`, in one transaction; returns how many.

    `fresh`: the account had no followers when the run began (its first sync), so rows are rarely there.

    unsubscribed_at is not overwritten: it keeps when they last left. Someone who left between
    user/get and batchget (subscribe 0) is not stamped, so the run's end marks them.
    """
    kept = [info for info in infos if info.is_subscribed and len(info.openid) <= OPENID_MAX_LENGTH]
    if not kept:
        return 0
    if connection.vendor == "postgresql":
        with transaction.atomic():
            if not (fresh and _copied_into_table(account_id=account_id, infos=kept, synced_at=synced_at)):
                _write_through_staging(account_id=account_id, infos=kept, synced_at=synced_at)
    else:
        _write_with_orm(account_id=account_id, infos=kept, synced_at=synced_at)
    return len(kept)


def _copied_into_table(*, account_id: int, infos: list[FollowerInfo], synced_at: datetime) -> bool:
    """COPY the rows straight into the table; False (and nothing written) when one of them is there already."""
    table = connection.ops.quote_name(Follower._meta.db_table)
    columns = "account_id, openid, nickname, tag_ids, is_subscribed, subscribed_at, synced_at"
    try:
        with transaction.atomic(), connection.cursor() as cursor, connection.wrap_database_errors:
            with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for info in infos:
                    copy.write_row(
                        (
                            account_id,
                            info.openid,
                            info.nickname[:NICKNAME_MAX_LENGTH],
                            "[" + ",".join(map(str, info.tag_ids)) + "]" if info.tag_ids else NO_TAGS,
                            True,
                            info.subscribed_at,
                            synced_at,
                        )
                    )
    except IntegrityError:
        return False
    return True


def _write_through_staging(*, account_id: int, infos: list[FollowerInfo], synced_at: datetime) -> None:
    table = connection.ops.quote_name(Follower._meta.db_table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {STAGING_TABLE} "
            "(openid text, nickname text, tag_ids text, subscribe_time bigint) ON COMMIT DROP"
        )
        with cursor.copy(f"COPY {STAGING_TABLE} (openid, nickname, tag_ids, subscribe_time) FROM STDIN") as copy:
            for info in infos:
                copy.write_row(
                    (
                        info.openid,
                        info.nickname[:NICKNAME_MAX_LENGTH],
                        "[" + ",".join(map(str, info.tag_ids)) + "]" if info.tag_ids else NO_TAGS,
                        info.subscribe_time,
                    )
                )
        cursor.execute(
            f"""
            INSERT INTO {table} AS follower
                (account_id, openid, nickname, tag_ids, is_subscribed, subscribed_at, synced_at)
            SELECT %s, openid, nickname, tag_ids::jsonb, true, to_timestamp(subscribe_time), %s
            FROM {STAGING_TABLE}
            ON CONFLICT (account_id, openid) DO UPDATE SET
                nickname = excluded.nickname,
                tag_ids = excluded.tag_ids,
                is_subscribed = true,
                subscribed_at = excluded.subscribed_at,
                synced_at = excluded.synced_at
            """,
            [account_id, synced_at],
        )
        # Dropped now too: inside an outer transaction (a test's) the page's commit is not the real one.
        cursor.execute(f"DROP TABLE {STAGING_TABLE}")


def _write_with_orm(*, account_id: int, infos: list[FollowerInfo], synced_at: datetime) -> None:
    Follower.objects.bulk_create(
        [
            Follower(
                account_id=account_id,
                openid=info.openid,
                nickname=info.nickname[:NICKNAME_MAX_LENGTH],
                tag_ids=info.tag_ids,
                is_subscribed=True,
                subscribed_at=info.subscribed_at,
                synced_at=synced_at,
            )
            for info in infos
        ],
        update_conflicts=True,
        unique_fields=["account", "openid"],
        update_fields=SYNCED_FIELDS,
    )
