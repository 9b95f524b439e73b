"""A page of synced followers written through the staging table (PostgreSQL: COPY, then one upsert) and
through the ORM's upsert (the path other databases take): the same rows either way."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from articles.models import Follower
from articles.services import follower_store
from articles.services.followers import followers_unseen_unsubscribe
from tests.factories import OfficialAccountFactory
from wechat.official_account_followers import FollowerInfo

SUBSCRIBED = int(datetime(2026, 5, 1, 8, 0, tzinfo=UTC).timestamp())
FIELDS = ["openid", "nickname", "tag_ids", "is_subscribed", "subscribed_at", "unsubscribed_at", "synced_at"]


def writer_of(path: str):
    if path == "staging" and connection.vendor != "postgresql":
        pytest.skip("the staging table is PostgreSQL's path")
    return follower_store._write_through_staging if path == "staging" else follower_store._write_with_orm


@pytest.fixture(params=["staging", "orm"])
def write(request):
    """Writes a page the way followers_page_write does on one database or the other, whatever this one is."""
    writer = writer_of(request.param)

    def write(account, infos, synced_at):
        kept = [info for info in infos if info.is_subscribed and len(info.openid) <= follower_store.OPENID_MAX_LENGTH]
        writer(account_id=account.pk, infos=kept, synced_at=synced_at)

    return write


def official_account(appid: str):
    return OfficialAccountFactory(appid=appid)


def rows(account) -> list[tuple]:
    return list(Follower.objects.filter(account=account).order_by("openid").values_list(*FIELDS))


def info(openid: str, *, tags=(), nickname: str = "", subscribed: bool = True, at: int | None = SUBSCRIBED):
    return FollowerInfo(openid, subscribed, nickname, list(tags), at)


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
def test_the_staging_table_writes_the_rows_the_orm_writes():
    if connection.vendor != "postgresql":
        pytest.skip("the staging table is PostgreSQL's path")
    synced_at = datetime.now(UTC)
    staged, orm = official_account("wxstaged0000000001"), official_account("wxorm0000000000001")

    follower_store._write_through_staging(account_id=staged.pk, infos=PAGE[:4], synced_at=synced_at)
    follower_store._write_with_orm(account_id=orm.pk, infos=PAGE[:4], synced_at=synced_at)

    assert rows(staged) == rows(orm)
    odd = Follower.objects.get(account=staged, openid="oOddName0000000000000000003")
    assert odd.nickname == ("茶\tHouse\n\\N " + "x" * 120)[:100]
    assert Follower.objects.get(account=staged, openid="oTagged00000000000000000002").tag_ids == [100, 2, 101]
    assert Follower.objects.get(account=staged, openid="oNoTime00000000000000000004").subscribed_at is None
    assert not connection.introspection.table_names().count(follower_store.STAGING_TABLE)  # dropped with its page


@pytest.mark.django_db
def test_a_first_syncs_page_copied_straight_into_the_table_has_the_rows_the_orm_writes():
    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's path")
    synced_at = datetime.now(UTC)
    copied, orm = official_account("wxcopied0000000001"), official_account("wxorm0000000000002")

    assert follower_store._copied_into_table(account_id=copied.pk, infos=PAGE[:4], synced_at=synced_at)
    follower_store._write_with_orm(account_id=orm.pk, infos=PAGE[:4], synced_at=synced_at)

    assert rows(copied) == rows(orm)


@pytest.mark.django_db
@pytest.mark.parametrize("fresh", [True, False])
def test_a_page_meeting_a_follower_an_event_wrote_meanwhile_upserts_them(fresh):
    account = official_account("wxmeanwhile0000001")
    joined_at = datetime(2026, 6, 1, tzinfo=UTC)
    Follower.objects.create(account=account, openid="oTagged00000000000000000002", subscribed_at=joined_at)
    synced_at = datetime.now(UTC)

    written = follower_store.followers_page_write(account_id=account.pk, infos=PAGE, synced_at=synced_at, fresh=fresh)

    assert written == 4
    assert Follower.objects.filter(account=account).count() == 4
    assert Follower.objects.filter(account=account, synced_at=synced_at).count() == 4
    assert Follower.objects.get(openid="oTagged00000000000000000002").tag_ids == [100, 2, 101]


@pytest.mark.django_db
def test_followers_page_write_keeps_the_subscribed_followers_with_an_openid():
    account = official_account("wxpage000000000001")

    assert follower_store.followers_page_write(account_id=account.pk, infos=PAGE, synced_at=datetime.now(UTC)) == 4

    assert [row[0] for row in rows(account)] == sorted(item.openid for item in PAGE[:4])


@pytest.mark.django_db
def test_a_page_written_again_updates_its_rows_and_keeps_when_they_last_left(write):
    account = official_account("wxrewrite000000001")
    first_sync = datetime(2026, 6, 1, tzinfo=UTC)
    left_at = first_sync + timedelta(days=1)
    write(account, PAGE, first_sync)
    Follower.objects.filter(openid="oPlain000000000000000000001").update(is_subscribed=False, unsubscribed_at=left_at)
    second_sync = first_sync + timedelta(days=2)
    changed = [info("oPlain000000000000000000001", tags=[100], at=SUBSCRIBED + 86400 * 32), *PAGE[1:]]

    write(account, changed, second_sync)

    back = Follower.objects.get(openid="oPlain000000000000000000001")
    assert (back.is_subscribed, back.tag_ids) == (True, [100])
    assert (back.unsubscribed_at, back.synced_at) == (left_at, second_sync)
    assert back.subscribed_at == datetime.fromtimestamp(SUBSCRIBED + 86400 * 32, tz=UTC)
    assert Follower.objects.filter(account=account, synced_at=second_sync).count() == 4


@pytest.mark.django_db
def test_followers_a_run_did_not_write_are_marked_unsubscribed_and_a_rerun_changes_nothing(write):
    account = official_account("wxunseen0000000001")
    first_sync = datetime(2026, 6, 1, tzinfo=UTC)
    write(account, PAGE, first_sync)
    second_sync = first_sync + timedelta(days=1)
    still_following = [PAGE[0], PAGE[2]]

    write(account, still_following, second_sync)
    assert followers_unseen_unsubscribe(account=account, sync_started_at=second_sync) == 2
    after_first_rerun = rows(account)
    write(account, still_following, second_sync)
    assert followers_unseen_unsubscribe(account=account, sync_started_at=second_sync) == 0

    assert rows(account) == after_first_rerun
    assert {row[0]: (row[3], row[5]) for row in after_first_rerun} == {
        "oPlain000000000000000000001": (True, None),
        "oTagged00000000000000000002": (False, second_sync),
        "oOddName0000000000000000003": (True, None),
        "oNoTime00000000000000000004": (False, second_sync),
    }
