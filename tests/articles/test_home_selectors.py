"""The marketing home page's reads: quota this window and next, pushes ahead, reach, follower growth."""

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from articles import home_selectors
from articles.models import Follower, PushBatch, PushMode, PushStatus
from articles.quota_windows import BEIJING
from tests.articles.push_builders import service_account, subscription_account
from tests.factories import PushFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=BEIJING)


def sent_push(account, *, title: str, at: datetime, batches: list[tuple[int, int, int]], mode=PushMode.MASS_SEND):
    push = PushFactory(account=account, title=title, status=PushStatus.SENT, mode=mode, scheduled_at=at, sent_at=at)
    for number, (sent, filtered, errors) in enumerate(batches, start=1):
        PushBatch.objects.create(
            push=push,
            number=number,
            clientmsgid=f"p{push.pk}b{number}",
            accepted_at=at,
            sent_count=sent,
            # As WeChat counts them: FilterCount is who remained after its filtering (sent or failed).
            filter_count=sent + errors,
            error_count=errors,
            total_count=sent + filtered + errors,
        )
    return push


def test_mass_sends_left_this_window_and_next_per_account():
    daily = subscription_account(name="Daily Tea")
    monthly = service_account(name="Monthly Tea")
    sent_push(daily, title="Today's", at=NOW - timedelta(hours=3), batches=[(10, 0, 0)])
    PushFactory(account=monthly, status=PushStatus.SCHEDULED, scheduled_at=NOW + timedelta(days=1))

    rows = {row.account.name: row for row in home_selectors.mass_sends_left_by_account(at=NOW)}

    assert (rows["Daily Tea"].this_window.remaining, rows["Daily Tea"].next_window.remaining) == (0, 1)
    assert rows["Daily Tea"].next_window.start == NOW.date() + timedelta(days=1)
    assert (rows["Monthly Tea"].this_window.remaining, rows["Monthly Tea"].next_window.remaining) == (3, 4)
    assert rows["Monthly Tea"].next_window.start == NOW.date().replace(month=1, year=2027, day=1)


def test_the_next_scheduled_pushes_soonest_first():
    account = subscription_account()
    later = PushFactory(account=account, status=PushStatus.SCHEDULED, scheduled_at=NOW + timedelta(days=2))
    sooner = PushFactory(account=account, status=PushStatus.SCHEDULED, scheduled_at=NOW + timedelta(hours=1))
    PushFactory(account=account, status=PushStatus.DRAFT, scheduled_at=NOW + timedelta(hours=2))

    assert list(home_selectors.pushes_next_scheduled(at=NOW)) == [sooner, later]


def test_the_last_pushes_reach_sums_their_batches_oldest_first():
    account = service_account()
    first = sent_push(account, title="First", at=NOW - timedelta(days=2), batches=[(100, 5, 1), (50, 2, 0)])
    second = sent_push(account, title="Second", at=NOW - timedelta(days=1), batches=[(80, 0, 3)])
    sent_push(account, title="Quiet", at=NOW, batches=[(1, 0, 0)], mode=PushMode.PUBLISH_ONLY)

    reach = home_selectors.pushes_last_reach()

    assert [push.pk for push in reach] == [first.pk, second.pk]
    assert [(push.sent, push.filtered, push.errors) for push in reach] == [(150, 7, 1), (80, 0, 3)]


def test_follower_growth_per_beijing_day():
    account = service_account()
    Follower.objects.create(account=account, openid="o-today", subscribed_at=NOW - timedelta(hours=14, minutes=59))
    Follower.objects.create(account=account, openid="o-old", subscribed_at=NOW - timedelta(days=90))
    Follower.objects.create(
        account=account,
        openid="o-left",
        subscribed_at=NOW - timedelta(days=2),
        is_subscribed=False,
        unsubscribed_at=NOW - timedelta(hours=1),
    )

    growth = home_selectors.follower_growth(at=NOW)

    assert growth.following_now == 2
    assert len(growth.days) == 30 and growth.days[-1] == NOW.date()
    assert growth.subscribed[-1] == 1  # 00:01 Beijing today, 16:01 UTC yesterday
    assert growth.subscribed[-3] == 1
    assert growth.unsubscribed[-1] == 1
    assert growth.net_change == 1


def _queries_of_every_selector() -> int:
    with CaptureQueriesContext(connection) as queries:
        home_selectors.mass_sends_left_by_account(at=NOW)
        [push.account.name for push in home_selectors.pushes_next_scheduled(at=NOW)]
        home_selectors.pushes_last_reach()
        home_selectors.follower_growth(at=NOW)
    return len(queries)


def test_the_query_count_does_not_grow_with_the_data():
    account = service_account()
    sent_push(account, title="One", at=NOW - timedelta(days=1), batches=[(1, 0, 0)])
    few = _queries_of_every_selector()

    for number in range(8):
        other = subscription_account() if number % 2 else service_account()
        sent_push(other, title=f"Push {number}", at=NOW - timedelta(days=number), batches=[(5, 1, 0), (3, 0, 1)])
        PushFactory(account=other, status=PushStatus.SCHEDULED, scheduled_at=NOW + timedelta(days=number + 1))
        Follower.objects.create(account=other, openid=f"o-{number}", subscribed_at=NOW - timedelta(days=number))

    assert _queries_of_every_selector() == few
