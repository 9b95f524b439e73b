"""Writing the pages of a follower sync, and finding at its end who it did not see.

A page is up to 10,000 followers (user/get's page). On PostgreSQL each page is COPied as prebuilt
tuples (psycopg formats them in C) into a temporary staging table that lives for the page's
transaction only (ON COMMIT DROP), and PostgreSQL itself turns WeChat's epoch seconds and tag lists
into the row's types; then one statement moves the page into the follower table:

- an account's first sync (no follower rows when the run began: `fresh`) has nothing to update, so
  the page is a plain INSERT; should a row be there after all (a subscribe event arrived meanwhile,
  or WeChat listed someone on two pages), it is rolled back to its savepoint and the page upserted;
- otherwise the upsert writes only the rows that are new or whose values changed. A row rewritten
  with its own values costs PostgreSQL a new version of the row and an entry in each of its indexes,
  and each night's sync finds nearly every row unchanged.

A row left alone keeps its synced_at, so synced_at cannot show that the run saw it: the run keeps
the openids of its upserted pages in a temporary table of its own (one column, no index, not
WAL-logged), and at its end one UPDATE marks those it neither stamped nor listed as unsubscribed
(an anti-join). Other databases (SQLite in `make test`) keep the ORM's upsert, which stamps every
row it is given; their synced_at tells who was seen, and rows read the same either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F, Q

from articles.models import Follower
from wechat.official_account_followers import FollowerInfo

OPENID_MAX_LENGTH = Follower._meta.get_field("openid").max_length
NICKNAME_MAX_LENGTH = Follower._meta.get_field("nickname").max_length
SYNCED_FIELDS = ["nickname", "tag_ids", "is_subscribed", "subscribed_at", "synced_at"]
STAGING_TABLE = "articles_follower_sync_staging"
SEEN_TABLE = "articles_follower_sync_seen"
NO_TAGS = "[]"
FOLLOWER_TABLE = Follower._meta.db_table
PAGE_COLUMNS = "(account_id, openid, nickname, tag_ids, is_subscribed, subscribed_at, synced_at)"
# A page's rows as the staging table holds them, for the account (the first %s) and the run (the second).
PAGE_ROWS = f"SELECT %s, openid, nickname, tag_ids::jsonb, true, to_timestamp(subscribe_time), %s FROM {STAGING_TABLE}"


class FollowerSyncWriter:
    """One sync run's writes: its pages (`page_write`), then who it did not see (`unseen_unsubscribe`).

    Used as a context manager around the run: on PostgreSQL it holds the run's temporary table of
    openids seen, made at its first upserted page (a first sync's INSERTed pages stamp their rows),
    on the connection that writes the pages (the run's thread), and drops it at the end.
    """

    def __init__(self, *, account_id: int, synced_at: datetime, fresh: bool = False):
        self.account_id = account_id
        self.synced_at = synced_at
        self.fresh = fresh  # the account had no followers when the run began (its first sync)
        self.postgresql = connection.vendor == "postgresql"
        self.seen_table_made = False

    def __enter__(self) -> FollowerSyncWriter:
        return self

    def __exit__(self, *exception) -> None:
        if self.seen_table_made:
            try:
                with connection.cursor() as cursor:
                    cursor.execute(f"DROP TABLE IF EXISTS {SEEN_TABLE}")
            except DatabaseError:
                if exception[0] is None:
                    raise
                # The connection failed with the run: the run's own error is the one to raise, and the
                # table goes with the connection.

    def _seen_record(self, cursor) -> None:
        """The staging table's openids kept as seen by this run, in a table made at its first upserted page."""
        if not self.seen_table_made:
            # One left by a run that failed on this connection would count its openids as seen.
            cursor.execute(f"DROP TABLE IF EXISTS {SEEN_TABLE}")
            cursor.execute(f"CREATE TEMPORARY TABLE {SEEN_TABLE} (openid text)")
            self.seen_table_made = True
        cursor.execute(f"INSERT INTO {SEEN_TABLE} (openid) SELECT openid FROM {STAGING_TABLE}")

    def page_write(self, infos: Iterable[FollowerInfo]) -> int:
        """Write the subscribed ones in one transaction; returns how many.

        unsubscribed_at is not overwritten: it keeps when they last left. Someone who left between
        user/get and batchget (subscribe 0) is not written, so the run's end marks them.
        """
        kept = [info for info in infos if info.is_subscribed and len(info.openid) <= OPENID_MAX_LENGTH]
        if not kept:
            return 0
        if self.postgresql:
            with transaction.atomic(), connection.cursor() as cursor:
                _staging_fill(cursor, kept)
                if not (self.fresh and _inserted_from_staging(cursor, self.account_id, self.synced_at)):
                    _upserted_from_staging(cursor, self.account_id, self.synced_at)
                    self._seen_record(cursor)
                # Dropped now too: inside an outer transaction (a test's) the page's commit is not the real one.
                cursor.execute(f"DROP TABLE {STAGING_TABLE}")
        else:
            _write_with_orm(account_id=self.account_id, infos=kept, synced_at=self.synced_at)
        return len(kept)

    def unseen_unsubscribe(self) -> int:
        """After the whole list: who WeChat no longer lists has left. Two UPDATEs, no rows loaded.

        A subscribe event that arrived during the run (subscribed_at after its start) keeps its
        follower; an unsubscribe event that arrived during it wins over the page read before it.
        """
        started = self.synced_at
        followers = Follower.objects.filter(account_id=self.account_id, is_subscribed=True)
        if self.seen_table_made:
            with connection.cursor() as cursor:
                # Indexed and counted once complete, so that whatever the planner thinks of the follower table's
                # rows (a bulk load leaves no statistics until autovacuum comes), each is one index probe at worst.
                cursor.execute(f"CREATE INDEX ON {SEEN_TABLE} (openid)")
                cursor.execute(f"ANALYZE {SEEN_TABLE}")
                cursor.execute(
                    f"""
                    UPDATE {FOLLOWER_TABLE} AS follower SET is_subscribed = false, unsubscribed_at = %s
                    WHERE account_id = %s AND is_subscribed
                        AND (synced_at < %s OR synced_at IS NULL)
                        AND (subscribed_at < %s OR subscribed_at IS NULL)
                        AND NOT EXISTS (SELECT FROM {SEEN_TABLE} AS seen WHERE seen.openid = follower.openid)
                    """,
                    [started, self.account_id, started, started],
                )
                left = cursor.rowcount
        else:
            left = (
                followers.filter(Q(synced_at__lt=started) | Q(synced_at__isnull=True))
                .exclude(subscribed_at__gte=started)
                .update(is_subscribed=False, unsubscribed_at=started)
            )
        followers.filter(unsubscribed_at__gte=started, unsubscribed_at__gt=F("subscribed_at")).update(
            is_subscribed=False
        )
        return left


def _staging_fill(cursor, infos: list[FollowerInfo]) -> None:
    cursor.execute(
        f"CREATE TEMPORARY TABLE {STAGING_TABLE} "
        "(openid text, nickname text, tag_ids text, subscribe_time bigint) ON COMMIT DROP"
    )
    # Epoch seconds and the tag list's text, not a datetime and a list: psycopg writes ints and strings
    # at once, and PostgreSQL converts them in the statement that reads the page.
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


def _inserted_from_staging(cursor, account_id: int, synced_at: datetime) -> bool:
    """The page inserted as new rows; False (and nothing written) when one of them is there already."""
    try:
        with transaction.atomic():
            cursor.execute(f"INSERT INTO {FOLLOWER_TABLE} {PAGE_COLUMNS} {PAGE_ROWS}", [account_id, synced_at])
    except IntegrityError:
        return False
    return True


def _upserted_from_staging(cursor, account_id: int, synced_at: datetime) -> None:
    """The page's new rows inserted and its changed rows updated; a row whose values are the page's is left alone."""
    cursor.execute(
        f"""
        INSERT INTO {FOLLOWER_TABLE} AS follower {PAGE_COLUMNS} {PAGE_ROWS}
        ON CONFLICT (account_id, openid) DO UPDATE SET
            nickname = excluded.nickname,
            tag_ids = excluded.tag_ids,
            is_subscribed = true,
            subscribed_at = excluded.subscribed_at,
            synced_at = excluded.synced_at
        WHERE (follower.nickname, follower.tag_ids, follower.is_subscribed, follower.subscribed_at)
            IS DISTINCT FROM (excluded.nickname, excluded.tag_ids, true, excluded.subscribed_at)
        """,
        [account_id, synced_at],
    )


def _write_with_orm(*, account_id: int, infos: list[FollowerInfo], synced_at: datetime) -> None:
    Follower.objects.bulk_create(
        [
            Follower(
                account_id=account_id,
                openid=info.openid,
                nickname=info.nickname[:NICKNAME_MAX_LENGTH],
                tag_ids=list(info.tag_ids),
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
