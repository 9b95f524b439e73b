"""Reads about pushes shared by the admin pages (the pages themselves are in test_push_admin)."""

from datetime import date, timedelta

import pytest

from articles.models import MassSendQuotaSpent, Push, PushBatch, PushStatus
from articles.selectors import push_calendar_weeks, pushes_with_batch_totals
from tests.articles.push_builders import beijing, service_account, subscription_account
from tests.factories import PushFactory

pytestmark = pytest.mark.django_db


def test_the_calendar_is_whole_weeks_monday_first_with_the_months_days_marked():
    weeks = push_calendar_weeks(account=subscription_account(), month=date(2026, 12, 1))

    days = [cell["date"] for week in weeks for cell in week]
    assert {len(week) for week in weeks} == {7}
    assert days[0] == date(2026, 11, 30) and days[0].weekday() == 0
    assert days == [days[0] + timedelta(days=offset) for offset in range(len(days))]
    assert [cell["date"].day for week in weeks for cell in week if cell["in_month"]] == list(range(1, 32))


def test_the_calendar_reads_a_month_in_three_queries_however_many_pushes(django_assert_num_queries):
    account = service_account()
    month = date(2026, 12, 1)
    for day in range(1, 29):
        push = PushFactory(account=account, status=PushStatus.SENT, scheduled_at=beijing(month.replace(day=day), 9))
        PushBatch.objects.create(push=push, number=1, clientmsgid=f"cal-{day}", sent_count=day)
    MassSendQuotaSpent.objects.create(account=account, window_start=month, reason="45028")

    with django_assert_num_queries(3):  # the pushes with their sent counts, the console sends, the spent windows
        weeks = push_calendar_weeks(account=account, month=month)

    in_month = [cell for week in weeks for cell in week if cell["in_month"]]
    assert [[push.total_sent for push in cell["pushes"]] for cell in in_month[:3]] == [[1], [2], [3]]
    assert all(cell["spent_at_wechat"] for cell in in_month)


def test_batch_totals_are_summed_per_push_and_none_before_any_batch():
    sent, unsent = PushFactory(status=PushStatus.SENT), PushFactory()
    PushBatch.objects.create(push=sent, number=1, clientmsgid="t-1", sent_count=40, total_count=50)
    PushBatch.objects.create(push=sent, number=2, clientmsgid="t-2", sent_count=2, total_count=3)

    totals = {
        push.pk: (push.total_sent, push.total_reached) for push in pushes_with_batch_totals(pushes=Push.objects.all())
    }

    assert totals == {sent.pk: (42, 53), unsent.pk: (None, None)}
