"""The pages of a follower sync written through the staging table (PostgreSQL: COPY, then one INSERT or an
upsert of the changed rows) and through the ORM's upsert (the path other databases take), and who a run did
not see marked unsubscribed: the same rows either way."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from articles.models import Follower
from articles.services import follower_store
from articles.services.follower_store import FollowerSyncWriter
from tests.factories import OfficialAccountFactory
from wechat.official_account_followers import FollowerInfo

SUBSCRIBED = int(datetime(2026, 5, 1, 8, 0, tzinfo=UTC).timestamp())
FIELDS = ["openid", "nickname", "tag_ids", "is_subscribed", "subscribed_at", "unsubscribed_at", "synced_at"]


def postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the staging table is PostgreSQL's path")


def official_account(appid: str):
    return OfficialAccountFactory(appid=appid)


def rows(account) -> list[tuple]:
    return list(Follower.objects.filter(account=account).order_by("openid").values_list(*FIELDS))


def info(openid: str, *, tags=(), nickname: str = "", subscribed: bool = True, at: int | None = SUBSCRIBED):
    return FollowerInfo(openid, subscribed, nickname, tuple(tags), at)


def run(account, pages: list[list[FollowerInfo]], synced_at: datetime, *, fresh: bool = False) -> tuple[int, int]:
    """A sync run over `pages`, as followers_sync makes it: (followers written, marked unsubscribed)."""
    with FollowerSyncWriter(account_id=account.pk, synced_at=synced_at, fresh=fresh) as writer:
        written = sum(writer.page_write(page) for page in pages)
        return written, writer.unseen_unsubscribe()


def row_versions(account) -> dict[str, str]:
    """Each row's physical place: an UPDATE writes a new version of the row elsewhere, so it changes."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT openid, ctid::text FROM articles_follower WHERE account_id = %s", [account.pk])
        return dict(cursor.fetchall())


PAGE = [
    info("oPlain000000000000000000001"),
    info("oTagged00000000000000000002", tags=[100, 2, 101]),
    # COPY's text format must carry tabs, newlines, backslashes and non-ASCII; the column takes 100 characters.
    info("oOddName0000000000000000003", nickname="茶\tHouse\n\\N " + "x" * 120),
    info("oNoTime00000000000000000004", at=None),
    info("oLeftMeanwhile0000000000005", subscribed=False),  # left between user/get and batchget: not written
    info("o" + "9" * 70),  # longer than an openid can be: not kept
]


@pytest.mark.django_db
@pytest.mark.parametrize("fresh", [True, False], ids=["first sync: INSERT", "upsert"])
def test_the_staging_table_writes_the_rows_the_orm_writes(fresh):
    postgresql_only()
    synced_at = datetime.now(UTC)
    staged, orm = official_account("wxstaged0000000001"), official_account("wxorm0000000000001")

    assert run(staged, [PAGE], synced_at, fresh=fresh) == (4, 0)
    follower_store._write_with_orm(account_id=orm.pk, infos=PAGE[:4], synced_at=synced_at)

    assert rows(staged) == rows(orm)
    odd = Follower.objects.get(account=staged, openid="oOddName0000000000000000003")
    assert odd.nickname == ("茶\tHouse\n\\N " + "x" * 120)[:100]
    assert Follower.objects.get(account=staged, openid="oTagged00000000000000000002").tag_ids == [100, 2, 101]
    assert Follower.objects.get(account=staged, openid="oNoTime00000000000000000004").subscribed_at is None
    tables = connection.introspection.table_names()
    assert follower_store.STAGING_TABLE not in tables and follower_store.SEEN_TABLE not in tables  # gone with the run


@pytest.mark.django_db
@pytest.mark.parametrize("fresh", [True, False])
def test_a_page_meeting_a_follower_an_event_wrote_meanwhile_upserts_them(fresh):
    account = official_account("wxmeanwhile0000001")
    joined_at = datetime(2026, 6, 1, tzinfo=UTC)
    Follower.objects.create(account=account, openid="oTagged00000000000000000002", subscribed_at=joined_at)
    synced_at = datetime.now(UTC)

    assert run(account, [PAGE], synced_at, fresh=fresh) == (4, 0)

    assert Follower.objects.filter(account=account).count() == 4
    assert Follower.objects.filter(account=account, synced_at=synced_at).count() == 4
    assert Follower.objects.get(openid="oTagged00000000000000000002").tag_ids == [100, 2, 101]


@pytest.mark.django_db
def test_a_page_keeps_the_subscribed_followers_with_an_openid():
    account = official_account("wxpage000000000001")

    assert run(account, [PAGE], datetime.now(UTC)) == (4, 0)

    assert [row[0] for row in rows(account)] == sorted(item.openid for item in PAGE[:4])


@pytest.mark.django_db
def test_a_second_run_writes_what_changed_marks_who_left_and_takes_back_who_returned():
    account = official_account("wxrewrite000000001")
    first_sync = datetime(2026, 6, 1, tzinfo=UTC)
    unchanged, retagged, moved, leaving, returning, odd, untimed = (
        info("oUnchanged0000000000000001", tags=[7]),
        info("oRetagged00000000000000002", tags=[7]),
        info("oMoved000000000000000000003"),
        info("oLeaving0000000000000000004"),
        info("oReturning00000000000000005"),
        PAGE[2],
        PAGE[3],
    )
    first_pages = [[unchanged, retagged, moved], [leaving, returning, odd, untimed]]
    assert run(account, first_pages, first_sync, fresh=True) == (7, 0)
    # They left and the push never arrived until later: we know it from an event the day after.
    left_at = first_sync + timedelta(days=1)
    Follower.objects.filter(openid=returning.openid).update(is_subscribed=False, unsubscribed_at=left_at)
    versions_before = row_versions(account) if connection.vendor == "postgresql" else {}
    second_sync = first_sync + timedelta(days=2)
    resubscribed = SUBSCRIBED + 86400 * 32
    newcomer = info("oNewcomer00000000000000006", tags=[8])
    second_pages = [
        [unchanged, info(retagged.openid, tags=[7, 8]), info(moved.openid, at=resubscribed)],
        [info(returning.openid, at=resubscribed), odd, untimed, newcomer],
    ]

    assert run(account, second_pages, second_sync) == (7, 1)

    followers = {follower.openid: follower for follower in Follower.objects.filter(account=account)}
    assert followers[retagged.openid].tag_ids == [7, 8]
    assert followers[moved.openid].subscribed_at == datetime.fromtimestamp(resubscribed, tz=UTC)
    assert (followers[leaving.openid].is_subscribed, followers[leaving.openid].unsubscribed_at) == (False, second_sync)
    back = followers[returning.openid]
    assert (back.is_subscribed, back.unsubscribed_at) == (True, left_at)  # when they last left is kept
    assert back.subscribed_at == datetime.fromtimestamp(resubscribed, tz=UTC)
    assert (followers[newcomer.openid].tag_ids, followers[newcomer.openid].synced_at) == ([8], second_sync)
    assert all(followers[item.openid].is_subscribed for item in (unchanged, odd, untimed, newcomer))
    changed = {retagged.openid, moved.openid, returning.openid, newcomer.openid}
    assert {openid for openid, follower in followers.items() if follower.synced_at == second_sync} == (
        changed if connection.vendor == "postgresql" else changed | {unchanged.openid, odd.openid, untimed.openid}
    )
    if connection.vendor == "postgresql":
        # The rows whose values WeChat still gives were not written at all (no new row version).
        versions_after = row_versions(account)
        assert {openid for openid in versions_before if versions_after[openid] == versions_before[openid]} == {
            unchanged.openid,
            odd.openid,
            untimed.openid,
        }
    after_second_run = rows(account)

    assert run(account, second_pages, second_sync + timedelta(days=1)) == (7, 0)

    assert [row[:6] for row in rows(account)] == [row[:6] for row in after_second_run]


@pytest.mark.django_db
def test_followers_a_run_did_not_write_are_marked_unsubscribed_and_a_rerun_changes_nothing():
    account = official_account("wxunseen0000000001")
    first_sync = datetime(2026, 6, 1, tzinfo=UTC)
    run(account, [PAGE], first_sync, fresh=True)
    second_sync = first_sync + timedelta(days=1)
    still_following = [PAGE[0], PAGE[2]]

    assert run(account, [still_following], second_sync) == (2, 2)
    after_first_rerun = rows(account)
    assert run(account, [still_following], second_sync) == (2, 0)

    assert rows(account) == after_first_rerun
    assert {row[0]: (row[3], row[5]) for row in after_first_rerun} == {
        "oPlain000000000000000000001": (True, None),
        "oTagged00000000000000000002": (False, second_sync),
        "oOddName0000000000000000003": (True, None),
        "oNoTime00000000000000000004": (False, second_sync),
    }


@pytest.mark.django_db
def test_a_run_that_failed_leaves_no_openids_seen_for_the_next():
    account = official_account("wxfailed0000000001")
    first_sync = datetime(2026, 6, 1, tzinfo=UTC)
    run(account, [PAGE], first_sync, fresh=True)
    with pytest.raises(RuntimeError), FollowerSyncWriter(account_id=account.pk, synced_at=first_sync) as writer:
        writer.page_write(PAGE)
        raise RuntimeError("WeChat failed past every retry")
    if connection.vendor == "postgresql":
        # As if the table had outlived its run on this connection: the next run starts its own.
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {follower_store.SEEN_TABLE} (openid text)")
            cursor.execute(f"INSERT INTO {follower_store.SEEN_TABLE} SELECT openid FROM articles_follower")

    assert run(account, [[PAGE[0]]], first_sync + timedelta(days=1)) == (1, 3)
