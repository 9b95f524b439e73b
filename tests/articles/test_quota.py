"""WeChat's mass-send quota when scheduling: Beijing days and months, 45028, publish-only, the last slot at once.

群发接口和原创校验: a subscription account mass-sends once a Beijing day, a service account four
times a Beijing calendar month; 45028 "has no masssend quota" when the quota went elsewhere.
"""

import threading
import time
from datetime import UTC, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from articles.exceptions import MassSendQuotaFull
from articles.models import FollowerTag, MassSendQuotaSpent, Push, PushAudience, PushBatch, PushMode, PushStatus
from articles.selectors import quota_window_usage, quota_windows_for_accounts
from articles.services.pushes import push_create, push_schedule
from articles.services.quota import ConsoleSendInvalid, console_send_record, quota_window_mark_spent
from tests import real_services
from tests.articles.push_builders import (
    beijing,
    beijing_today,
    draft_push,
    future_day,
    future_month_start,
    service_account,
    subscription_account,
)
from tests.factories import ArticleFactory, PushFactory
from wechat.models import OfficialAccount


def _schedule(push: Push, at) -> Push:
    return push_schedule(push_id=push.pk, at=at, staff_user=None)


def _refusal(push: Push, at) -> MassSendQuotaFull:
    with pytest.raises(MassSendQuotaFull) as refused:
        _schedule(push, at)
    push.refresh_from_db()
    assert push.status == PushStatus.DRAFT
    return refused.value


@pytest.mark.django_db
class TestSubscriptionAccountDays:
    def test_a_second_push_the_same_beijing_day_is_refused_with_the_reason_and_next_free_slot(self):
        account = subscription_account()
        day = future_day()
        _schedule(draft_push(account), beijing(day, 8))

        refusal = _refusal(draft_push(account), beijing(day, 20))

        next_day = day + timedelta(days=1)
        assert refusal.message == (
            f"This subscription account has used 1 of 1 mass send for {day.day} {day:%B %Y} (Beijing time), "
            f"counting those scheduled. The next free slot is {next_day.day} {next_day:%B %Y}, 00:00 (Beijing time)."
        )
        assert refusal.next_free_slot == beijing(next_day, 0)
        assert refusal.fields == {"scheduled_at": [refusal.message]}

    def test_2359_and_0001_beijing_are_different_days_so_both_are_accepted(self):
        account = subscription_account()
        day = future_day()

        late = _schedule(draft_push(account), beijing(day, 23, 59))
        early = _schedule(draft_push(account), beijing(day + timedelta(days=1), 0, 1))

        assert (late.status, early.status) == (PushStatus.SCHEDULED, PushStatus.SCHEDULED)
        # 23:59 Beijing is 15:59 UTC: a UTC day would have put both in one window.
        assert late.scheduled_at.astimezone(UTC).date() == early.scheduled_at.astimezone(UTC).date()

    def test_the_next_free_slot_skips_days_already_full(self):
        account = subscription_account()
        day = future_day()
        for offset in range(3):
            _schedule(draft_push(account), beijing(day + timedelta(days=offset), 9))

        refusal = _refusal(draft_push(account), beijing(day, 18))

        assert refusal.next_free_slot == beijing(day + timedelta(days=3), 0)

    def test_a_push_that_reached_wechat_after_midnight_counts_on_the_day_it_arrived(self):
        account = subscription_account()
        day = future_day()
        late = _schedule(draft_push(account), beijing(day, 23, 59, 30))
        # Beat claimed it a minute later: WeChat took it on the next Beijing day.
        Push.objects.filter(pk=late.pk).update(status=PushStatus.SENT)
        PushBatch.objects.create(
            push=late,
            number=1,
            clientmsgid="late-1",
            accepted_at=beijing(day, 23, 59) + timedelta(minutes=1, seconds=30),
        )

        assert _schedule(draft_push(account), beijing(day, 12)).status == PushStatus.SCHEDULED
        _refusal(draft_push(account), beijing(day + timedelta(days=1), 12))


@pytest.mark.django_db
class TestServiceAccountMonths:
    def test_the_fifth_push_of_a_month_is_refused_and_the_first_of_the_next_month_accepted(self):
        account = service_account()
        month = future_month_start()
        for day in (1, 9, 17, 28):
            _schedule(draft_push(account), beijing(month.replace(day=day), 10))

        refusal = _refusal(draft_push(account), beijing(month.replace(day=28), 23, 59))
        next_month = (month + timedelta(days=32)).replace(day=1)
        accepted = _schedule(draft_push(account), beijing(next_month, 0, 1))

        assert refusal.message.startswith(
            f"This service account has used 4 of 4 mass sends to all followers for {month:%B %Y} (Beijing time)"
        )
        assert f"The next free slot is 1 {next_month:%B %Y}, 00:00 (Beijing time)" in refusal.message
        assert refusal.next_free_slot == beijing(next_month, 0)
        assert accepted.status == PushStatus.SCHEDULED

    def test_sent_sending_and_partly_sent_pushes_count_cancelled_and_failed_ones_do_not(self):
        account = service_account()
        month = future_month_start()
        at = beijing(month.replace(day=5), 10)
        for status in (PushStatus.SENDING, PushStatus.SENT, PushStatus.PARTLY_SENT):
            PushFactory(account=account, status=status, scheduled_at=at)
        PushFactory(account=account, status=PushStatus.CANCELLED, scheduled_at=at)
        PushFactory(account=account, status=PushStatus.FAILED, scheduled_at=at)
        PushFactory(account=account, status=PushStatus.DRAFT, scheduled_at=at)

        assert quota_window_usage(account=account, at=at).used == 3
        assert _schedule(draft_push(account), at).status == PushStatus.SCHEDULED
        _refusal(draft_push(account), at)

    def test_a_failed_push_whose_batch_wechat_accepted_still_counts(self):
        account = service_account()
        month = future_month_start()
        at = beijing(month.replace(day=5), 10)
        failed = PushFactory(account=account, status=PushStatus.FAILED, scheduled_at=at)
        PushBatch.objects.create(push=failed, number=1, clientmsgid="failed-1", accepted_at=at)

        assert quota_window_usage(account=account, at=at).used == 1

    def test_another_accounts_pushes_do_not_count(self):
        account, other = service_account(), service_account()
        at = beijing(future_month_start().replace(day=3), 10)
        for _ in range(4):
            PushFactory(account=other, status=PushStatus.SCHEDULED, scheduled_at=at)

        assert _schedule(draft_push(account), at).status == PushStatus.SCHEDULED


@pytest.mark.django_db
class TestSpentAtWeChat:
    def test_a_window_wechat_answered_45028_in_is_refused_though_we_sent_nothing(self):
        account = service_account()
        month = future_month_start()
        quota_window_mark_spent(
            account=account, at=beijing(month.replace(day=2), 9), reason="45028 has no masssend quota"
        )

        refusal = _refusal(draft_push(account), beijing(month.replace(day=20), 9))

        next_month = (month + timedelta(days=32)).replace(day=1)
        assert refusal.message.startswith(
            f"WeChat reported this service account's mass sends for {month:%B %Y} (Beijing time) as used up (45028"
        )
        assert refusal.next_free_slot == beijing(next_month, 0)

    def test_the_next_free_slot_skips_a_spent_window(self):
        account = subscription_account()
        day = future_day()
        _schedule(draft_push(account), beijing(day, 9))
        MassSendQuotaSpent.objects.create(account=account, window_start=day + timedelta(days=1), reason="45028")

        refusal = _refusal(draft_push(account), beijing(day, 10))

        assert refusal.next_free_slot == beijing(day + timedelta(days=2), 0)


@pytest.mark.django_db
def test_publish_only_pushes_use_no_quota_and_are_not_refused():
    account = subscription_account()
    day = future_day()
    _schedule(draft_push(account), beijing(day, 9))
    MassSendQuotaSpent.objects.create(account=account, window_start=day, reason="45028")

    published = [_schedule(draft_push(account, mode=PushMode.PUBLISH_ONLY), beijing(day, hour)) for hour in (10, 11)]

    assert [push.status for push in published] == [PushStatus.SCHEDULED, PushStatus.SCHEDULED]
    assert quota_window_usage(account=account, at=beijing(day, 12)).used == 1


@pytest.mark.django_db
def test_retrying_a_failed_push_needs_room_in_the_window():
    account = subscription_account()
    day = future_day()
    failed = draft_push(account)
    Push.objects.filter(pk=failed.pk).update(status=PushStatus.FAILED, failure_reason="45028 no quota")
    _schedule(draft_push(account), beijing(day, 8))

    with pytest.raises(MassSendQuotaFull):
        _schedule(failed, beijing(day, 9))
    retried = _schedule(failed, beijing(day + timedelta(days=1), 9))

    assert (retried.status, retried.failure_reason) == (PushStatus.SCHEDULED, "")


@pytest.mark.django_db
def test_what_is_left_this_window_and_the_next_per_account():
    subscription, service = subscription_account(), service_account()
    now = timezone.now()
    today = beijing_today()
    PushFactory(account=subscription, status=PushStatus.SCHEDULED, scheduled_at=now)
    # Sent this month, whenever "now" falls in it.
    PushFactory(account=service, status=PushStatus.SENT, scheduled_at=beijing(today.replace(day=1), 0, 5))
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    MassSendQuotaSpent.objects.create(account=service, window_start=next_month, reason="45028")

    windows = quota_windows_for_accounts(accounts=[subscription, service], at=now)

    this_day, next_day = windows[subscription.pk]
    this_month, following_month = windows[service.pk]
    assert (this_day.used, this_day.remaining) == (1, 0)
    assert (next_day.start, next_day.remaining) == (today + timedelta(days=1), 1)
    assert (this_month.start, this_month.used, this_month.remaining) == (today.replace(day=1), 1, 3)
    assert (following_month.start, following_month.spent_at_wechat, following_month.remaining) == (next_month, True, 0)
    assert this_month.label == f"{today:%B %Y}"
    assert next_day.label == f"{next_day.start.day} {next_day.start:%B %Y}"


def _backends_waiting_on_a_lock() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_two_staff_taking_the_last_slot_at_once_one_is_refused():
    """Two threads on their own PostgreSQL connections schedule the account's last mass send together.

    A third holds the account's row until both are seen waiting for it, so both have started
    before either can count: without the lock both would count 3 of 4 and both be scheduled.
    """
    real_services.require(connection.vendor == "postgresql", "PostgreSQL as DATABASE_URL")
    account = service_account()
    at = beijing(future_month_start().replace(day=10), 10)
    for _ in range(3):
        _schedule(draft_push(account), at)
    contenders = [draft_push(account) for _ in range(2)]
    held, release = threading.Event(), threading.Event()
    outcomes: list = [None] * len(contenders)

    def hold_the_account() -> None:
        try:
            with transaction.atomic():
                OfficialAccount.objects.select_for_update().get(pk=account.pk)
                held.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def schedule(index: int, push: Push) -> None:
        try:
            outcomes[index] = _schedule(push, at).status
        except MassSendQuotaFull as refusal:
            outcomes[index] = refusal
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_account)
    holder.start()
    assert held.wait(timeout=10)
    threads = [threading.Thread(target=schedule, args=pair) for pair in enumerate(contenders)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 10
        while _backends_waiting_on_a_lock() < len(contenders):
            assert time.monotonic() < deadline, "scheduling did not wait for the account's row lock"
            time.sleep(0.02)
    finally:
        release.set()
        for thread in [holder, *threads]:
            thread.join(timeout=60)

    assert sorted(type(outcome).__name__ for outcome in outcomes) == ["MassSendQuotaFull", "PushStatus"]
    assert Push.objects.filter(account=account, status=PushStatus.SCHEDULED).count() == 4


@pytest.mark.django_db
class TestWhatCountsPerAccountType:
    """群发接口和原创校验 (前言): what each account type's window counts."""

    def test_a_service_accounts_tag_and_openid_sends_do_not_count_but_sends_to_all_do(self):
        account = service_account()
        at = beijing(future_month_start().replace(day=5), 10)
        for audience in (PushAudience.TAG, PushAudience.OPENIDS):
            for _ in range(5):
                PushFactory(
                    account=account, status=PushStatus.SENT, scheduled_at=at, audience=audience, audience_tag_id=7
                )
        PushFactory(account=account, status=PushStatus.SENT, scheduled_at=at)

        assert quota_window_usage(account=account, at=at).used == 1

    def test_a_service_account_schedules_tag_sends_past_four_in_a_month(self):
        account = service_account()
        FollowerTag.objects.create(account=account, tag_id=7, name="Tea club", follower_count=3)
        at = beijing(future_month_start().replace(day=5), 10)
        for _ in range(4):
            _schedule(draft_push(account), at)

        tagged = [_schedule(_tag_push(account, 7), at) for _ in range(3)]

        assert [push.status for push in tagged] == [PushStatus.SCHEDULED] * 3
        _refusal(draft_push(account), at)

    def test_a_subscription_accounts_tag_send_uses_its_day(self):
        account = subscription_account()
        FollowerTag.objects.create(account=account, tag_id=7, name="Tea club", follower_count=3)
        day = future_day()
        _schedule(_tag_push(account, 7), beijing(day, 8))

        _refusal(draft_push(account), beijing(day, 20))

    def test_console_sends_count_in_a_subscription_day_and_a_service_month(self):
        subscription, service = subscription_account(), service_account()
        now = timezone.now()
        console_send_record(account=subscription, sent_at=now - timedelta(minutes=1), note="From the phone")
        for minutes in range(1, 5):
            console_send_record(account=service, sent_at=now - timedelta(minutes=minutes))

        windows = quota_windows_for_accounts(accounts=[subscription, service], at=now)

        assert (windows[subscription.pk][0].used, windows[subscription.pk][0].remaining) == (1, 0)
        assert (windows[service.pk][0].used, windows[service.pk][0].remaining) == (4, 0)
        with pytest.raises(MassSendQuotaFull) as refused:
            _schedule(draft_push(service), None)
        assert "counting those scheduled and those made in WeChat's console" in refused.value.message

    def test_a_console_send_in_the_future_is_refused(self):
        with pytest.raises(ConsoleSendInvalid) as refused:
            console_send_record(account=service_account(), sent_at=timezone.now() + timedelta(hours=1))
        assert list(refused.value.fields) == ["sent_at"]


@pytest.mark.django_db
class Test45028ByKindOfSend:
    def test_45028_on_a_service_accounts_tag_send_leaves_its_sends_to_all(self):
        account = service_account()
        at = beijing(future_month_start().replace(day=5), 10)
        tagged = PushFactory(account=account, audience=PushAudience.TAG, audience_tag_id=7, scheduled_at=at)

        quota_window_mark_spent(account=account, at=at, reason="45028 has no masssend quota", push=tagged)

        assert not MassSendQuotaSpent.objects.filter(account=account).exists()
        assert quota_window_usage(account=account, at=at).remaining == 4

    def test_45028_on_a_service_accounts_send_to_all_marks_the_month_spent(self):
        account = service_account()
        at = beijing(future_month_start().replace(day=5), 10)
        to_all = PushFactory(account=account, audience=PushAudience.ALL, scheduled_at=at)

        quota_window_mark_spent(account=account, at=at, reason="45028 has no masssend quota", push=to_all)

        assert quota_window_usage(account=account, at=at).spent_at_wechat

    def test_45028_on_a_subscription_accounts_tag_send_marks_the_day_spent(self):
        account = subscription_account()
        at = beijing(future_day(), 10)
        tagged = PushFactory(account=account, audience=PushAudience.TAG, audience_tag_id=7, scheduled_at=at)

        quota_window_mark_spent(account=account, at=at, reason="45028 has no masssend quota", push=tagged)

        assert quota_window_usage(account=account, at=at).spent_at_wechat


def _tag_push(account, tag_id: int) -> Push:
    return push_create(
        account=account,
        title="For the tea club",
        mode=PushMode.MASS_SEND,
        audience=PushAudience.TAG,
        audience_tag_id=tag_id,
        article_ids=[ArticleFactory().pk],
    )
