"""Marketing reads WeChat's statistics in the admin, in Chinese by default, and cannot change them."""

from datetime import UTC, date, datetime

import pytest
from django.contrib.auth.models import Group

from articles.models import (
    ArticleDailyStatistics,
    ArticleTotalStatistics,
    FollowerDailyStatistics,
    FollowerSource,
    FollowerSourceDailyStatistics,
    StatisticsDay,
)
from wechat.models import OfficialAccount

pytestmark = pytest.mark.django_db

PAGES = [
    "articledailystatistics",
    "articletotalstatistics",
    "followersourcedailystatistics",
    "followerdailystatistics",
    "statisticsday",
]


@pytest.fixture
def statistics():
    account = OfficialAccount.objects.create(
        name="Tea House",
        appid="wx00000000000000f9",
        app_secret="statistics-admin-secret",
        account_type=OfficialAccount.AccountType.SERVICE,
        callback_token="adminToken42",
        encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    )
    day = date(2026, 5, 1)
    ArticleDailyStatistics.objects.create(
        account=account,
        day=day,
        msgid="1000000002_1",
        msg_data_id="1000000002",
        article_index=1,
        title="秋茶",
        int_page_read_user=120,
        int_page_read_count=150,
    )
    ArticleTotalStatistics.objects.create(
        account=account,
        msgid="1000000002_1",
        title="秋茶",
        sent_on=day,
        stat_date=day,
        target_user=400,
        int_page_read_user=120,
    )
    FollowerSourceDailyStatistics.objects.create(
        account=account, day=day, user_source=FollowerSource.QR_CODE, new_user=7, cancel_user=1
    )
    FollowerDailyStatistics.objects.create(account=account, day=day, cumulate_user=400)
    StatisticsDay.objects.create(account=account, day=day, synced_at=datetime(2026, 5, 2, 1, tzinfo=UTC))
    return account


@pytest.fixture
def marketer(django_user_model):
    user = django_user_model.objects.create_user(username="marketer", is_staff=True)
    user.groups.add(Group.objects.get(name="Marketing"))
    return user


@pytest.mark.parametrize("page", PAGES)
def test_marketing_reads_each_statistics_list_and_cannot_add(client, marketer, statistics, page):
    client.force_login(marketer)

    listed = client.get(f"/admin/articles/{page}/")

    assert listed.status_code == 200
    assert b"Tea House" in listed.content
    assert client.get(f"/admin/articles/{page}/add/").status_code == 403


def test_an_articles_read_rate_is_its_readers_over_its_recipients(client, marketer, statistics):
    client.force_login(marketer)

    assert "30.0%" in client.get("/admin/articles/articletotalstatistics/").content.decode()


@pytest.mark.chinese_staff
def test_the_statistics_read_in_chinese(client, marketer, statistics):
    client.force_login(marketer)

    articles = client.get("/admin/articles/articledailystatistics/").content.decode()
    followers = client.get("/admin/articles/followersourcedailystatistics/").content.decode()

    assert "图文每日数据" in articles and "阅读人数" in articles
    assert "扫描二维码" in followers and "新关注人数" in followers


def test_a_long_list_costs_a_fixed_number_of_queries(client, marketer, statistics, django_assert_max_num_queries):
    day = date(2026, 5, 2)
    ArticleDailyStatistics.objects.bulk_create(
        [
            ArticleDailyStatistics(account=statistics, day=day, msgid=f"1000000003_{index}", title=f"Tea {index}")
            for index in range(1, 9)
        ]
    )
    client.force_login(marketer)

    # Session, user, permissions (two), the account filter's choices, the counts (all, filtered), the page
    # of rows with their accounts, the date hierarchy's range and days.
    with django_assert_max_num_queries(10):
        assert client.get("/admin/articles/articledailystatistics/").status_code == 200
