"""WeChat's statistics synced from the sandbox over HTTP, a Beijing day at a time, resumable and idempotent.

数据统计 (图文分析: getarticlesummary, getarticletotal, 最大时间跨度 1; 用户分析: getusersummary,
getusercumulate, 最大时间跨度 7): end_date at most yesterday, yesterday ready after 8:00 Beijing time.
The sandbox's clock runs days ahead so that the send made now lies in the past of the day the sync
runs on; the sync is told that day (`now`), and asks nothing past its yesterday.
"""

import json
from datetime import UTC, datetime, time, timedelta

import pytest
from django_celery_beat.models import PeriodicTask

from articles.models import (
    ArticleDailyStatistics,
    ArticleTotalStatistics,
    FollowerDailyStatistics,
    FollowerSourceDailyStatistics,
    StatisticsDay,
)
from articles.services.statistics import statistics_of_day_fetch, statistics_of_day_store, statistics_sync
from articles.tasks import sync_account_statistics
from tests.wechat.images import image_bytes
from wechat.clients import client_for_official_account
from wechat.errors import BEIJING, WeChatPermanentError
from wechat.models import OfficialAccount
from wechat.official_account_drafts import DraftArticle, draft_add
from wechat.official_account_mass_send import mass_send_to_all
from wechat.official_account_media import thumb_add
from wechat.official_account_statistics import (
    StatisticsDateRangeRefused,
    article_days,
    follower_source_days,
    follower_total_days,
    latest_ready_day,
)

APPID = "wx00000000000000f8"
SECRET = "statistics-secret"
TOKEN = "statisticsToken42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
# Where the sandbox delivers MASSSENDJOBFINISH: nothing listens there; the statistics are what is tested.
UNREACHABLE_CALLBACK = "http://127.0.0.1:9/wechat/oa/nowhere/"
DAY = 86_400
NO_WAIT = (0.01, 0.01)
SUMMARY = "/datacube/getarticlesummary"
CUMULATE = "/datacube/getusercumulate"


@pytest.fixture
def account(sandbox):
    account = OfficialAccount.objects.create(
        name="Tea House",
        appid=APPID,
        app_secret=SECRET,
        account_type=OfficialAccount.AccountType.SERVICE,
        callback_token=TOKEN,
        encoding_aes_key=AES_KEY,
        message_mode=OfficialAccount.MessageMode.PLAIN,
    )
    sandbox.register_app(
        APPID,
        SECRET,
        "official_account",
        account_type="service",
        callback={"url": UNREACHABLE_CALLBACK, "token": TOKEN},
    )
    yield account
    sandbox.remove_app(APPID)


def mass_send(account, *, titles: list[str]) -> str:
    """A mass send of these articles to every follower, made now; returns its msg_data_id."""
    client = client_for_official_account(account)
    thumb = thumb_add(client, jpeg=image_bytes("JPEG")).media_id
    articles = [
        DraftArticle(
            title=title,
            author="",
            digest="",
            content="<p>Oolong.</p>",
            content_source_url="",
            thumb_media_id=thumb,
            need_open_comment=False,
            only_fans_can_comment=False,
        )
        for title in titles
    ]
    media_id = draft_add(client, articles=articles).media_id
    return mass_send_to_all(client, media_id=media_id, clientmsgid=f"stats-{titles[0]}").msg_data_id


def send_day():
    """Today in Beijing: the day the test's sends are made on."""
    return datetime.now(UTC).astimezone(BEIJING).date()


def morning_of(day) -> datetime:
    """10:00 Beijing time on `day`: yesterday's figures are ready."""
    return datetime.combine(day, time(10), tzinfo=BEIJING)


def sync(account, *, on_day, catch_up_days: int):
    return statistics_sync(account=account, now=morning_of(on_day), catch_up_days=catch_up_days, retry_delays=NO_WAIT)


def asked_days(sandbox, path: str) -> list[str]:
    return [json.loads(call["body"])["begin_date"] for call in sandbox.received(path)]


@pytest.mark.django_db
def test_a_day_synced_twice_stores_one_row_per_article_per_day(sandbox, account):
    sandbox.add_followers(APPID, count=40)
    msg_data_id = mass_send(account, titles=["Autumn teas", "Oolong notes"])
    sent_on = send_day()
    sandbox.advance_clock(3 * DAY)

    result = sync(account, on_day=sent_on + timedelta(days=2), catch_up_days=2)

    assert result.days == (sent_on, sent_on + timedelta(days=1))
    rows = ArticleDailyStatistics.objects.filter(account=account, day=sent_on)
    assert sorted(rows.values_list("msgid", "msg_data_id", "article_index", "title")) == [
        (f"{msg_data_id}_1", msg_data_id, 1, "Autumn teas"),
        (f"{msg_data_id}_2", msg_data_id, 2, "Oolong notes"),
    ]
    first = sorted(ArticleDailyStatistics.objects.values_list("day", "msgid", "int_page_read_user", "share_count"))
    assert all(readers > 0 for _, _, readers, _ in first)
    totals = sorted(ArticleTotalStatistics.objects.values_list("msgid", "stat_date", "target_user"))
    assert totals == [
        (f"{msg_data_id}_{index}", sent_on + timedelta(days=after), 40) for index in (1, 2) for after in (0, 1)
    ]
    assert FollowerDailyStatistics.objects.get(account=account, day=sent_on).cumulate_user == 40
    assert sum(FollowerSourceDailyStatistics.objects.filter(day=sent_on).values_list("new_user", flat=True)) == 40

    # The same day fetched and stored again (a redelivered task, a rerun): the same rows, no more.
    client = client_for_official_account(account)
    latest = sent_on + timedelta(days=1)
    for _ in range(2):
        statistics = statistics_of_day_fetch(
            client=client, day=sent_on, latest=latest, today=latest + timedelta(days=1), retry_delays=NO_WAIT
        )
        statistics_of_day_store(account=account, statistics=statistics, synced_at=morning_of(latest))

    assert sorted(ArticleDailyStatistics.objects.values_list("day", "msgid", "int_page_read_user", "share_count")) == (
        first
    )
    assert ArticleTotalStatistics.objects.count() == 4
    assert FollowerDailyStatistics.objects.count() == 2
    assert StatisticsDay.objects.filter(account=account).count() == 2


@pytest.mark.django_db
def test_a_second_run_the_same_day_asks_wechat_nothing(sandbox, account):
    sandbox.add_followers(APPID, count=10)
    sandbox.advance_clock(2 * DAY)
    on_day = send_day() + timedelta(days=1)
    sync(account, on_day=on_day, catch_up_days=3)
    calls = len(sandbox.received())

    assert sync(account, on_day=on_day, catch_up_days=3).days == ()
    assert len(sandbox.received()) == calls


@pytest.mark.django_db
def test_days_missed_are_caught_up_and_days_done_are_not_asked_again(sandbox, account):
    sandbox.add_followers(APPID, count=12)
    mass_send(account, titles=["Spring teas"])
    sent_on = send_day()
    sandbox.advance_clock(5 * DAY)
    sync(account, on_day=sent_on + timedelta(days=1), catch_up_days=2)
    assert asked_days(sandbox, CUMULATE) == [str(sent_on - timedelta(days=1)), str(sent_on)]

    # No run for two days (beat down); the next one fetches every day since, and only those.
    result = sync(account, on_day=sent_on + timedelta(days=4), catch_up_days=4)

    caught_up = [sent_on + timedelta(days=after) for after in (1, 2, 3)]
    assert result.days == tuple(caught_up)
    assert asked_days(sandbox, CUMULATE)[2:] == [str(day) for day in caught_up]
    assert sorted(StatisticsDay.objects.values_list("day", flat=True)) == [
        sent_on + timedelta(days=after) for after in range(-1, 4)
    ]
    assert list(FollowerDailyStatistics.objects.order_by("day").values_list("cumulate_user", flat=True)) == [
        0,
        12,
        12,
        12,
        12,
    ]
    # The article was read on each day since its send (the sandbox's figures keep it above WeChat's floor of 3).
    assert sorted(ArticleDailyStatistics.objects.values_list("day", flat=True)) == [sent_on, *caught_up]


@pytest.mark.django_db
def test_a_run_stopped_by_wechat_keeps_the_days_it_stored_and_resumes_at_the_failed_one(sandbox, account):
    sandbox.advance_clock(2 * DAY)
    first = send_day()
    # Our clock a day ahead of WeChat's: the run's last day is WeChat's today, which it refuses (61501).
    on_day = first + timedelta(days=3)

    with pytest.raises(WeChatPermanentError) as refused:
        sync(account, on_day=on_day, catch_up_days=3)

    assert refused.value.errcode == 61501
    assert sorted(StatisticsDay.objects.values_list("day", flat=True)) == [first, first + timedelta(days=1)]
    sandbox.advance_clock(DAY)
    assert sync(account, on_day=on_day, catch_up_days=3).days == (first + timedelta(days=2),)


@pytest.mark.django_db
def test_a_range_past_yesterday_or_over_the_span_is_refused_before_any_call(sandbox, account):
    client = client_for_official_account(account)
    today = send_day()

    with pytest.raises(StatisticsDateRangeRefused, match="at most yesterday"):
        article_days(client, begin=today, end=today, today=today)
    with pytest.raises(StatisticsDateRangeRefused, match="maximum span of 1"):
        article_days(client, begin=today - timedelta(days=2), end=today - timedelta(days=1), today=today)
    with pytest.raises(StatisticsDateRangeRefused, match="maximum span of 7"):
        follower_source_days(client, begin=today - timedelta(days=8), end=today - timedelta(days=1), today=today)
    with pytest.raises(StatisticsDateRangeRefused, match="after end_date"):
        follower_total_days(client, begin=today - timedelta(days=1), end=today - timedelta(days=2), today=today)

    assert [call["path"] for call in sandbox.received() if call["path"].startswith("/datacube/")] == []
    # Seven days ending yesterday is within getusercumulate's span.
    assert (
        len(follower_total_days(client, begin=today - timedelta(days=7), end=today - timedelta(days=1), today=today))
        == 7
    )


@pytest.mark.django_db
def test_wechats_own_refusal_of_a_range_is_a_permanent_error_with_its_code(sandbox, account):
    client = client_for_official_account(account)
    today = send_day()

    # Our clock a day ahead of WeChat's: our yesterday is WeChat's today, which it refuses.
    with pytest.raises(WeChatPermanentError) as refused:
        article_days(client, begin=today, end=today, today=today + timedelta(days=1))

    assert refused.value.errcode == 61501


@pytest.mark.parametrize(
    ("beijing_time", "latest"),
    [("2026-03-10 07:59", "2026-03-08"), ("2026-03-10 08:00", "2026-03-09"), ("2026-03-10 23:59", "2026-03-09")],
)
def test_yesterday_is_ready_after_eight_beijing_time(beijing_time, latest):
    now = datetime.strptime(beijing_time, "%Y-%m-%d %H:%M").replace(tzinfo=BEIJING).astimezone(UTC)

    assert str(latest_ready_day(now)) == latest


@pytest.mark.django_db
def test_beat_syncs_every_accounts_statistics_each_morning_after_wechat_is_ready():
    task = PeriodicTask.objects.get(task="articles.tasks.sync_statistics_of_every_account")

    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("9", "0", "Asia/Shanghai")
    assert task.enabled and task.queue == "followers"


@pytest.mark.django_db
def test_the_task_syncs_up_to_the_latest_finished_day_on_the_real_clock(sandbox, account, settings):
    settings.STATISTICS_CATCH_UP_DAYS = 2
    sandbox.add_followers(APPID, count=3)

    stored = sync_account_statistics.apply(args=[account.pk]).get()

    latest = latest_ready_day(datetime.now(UTC))
    assert stored == 2
    assert sorted(StatisticsDay.objects.values_list("day", flat=True)) == [latest - timedelta(days=1), latest]
    assert sync_account_statistics.apply(args=[account.pk + 1000]).get() == 0  # an account gone: nothing to do
