"""The sandbox's statistics (datacube) over real HTTP: WeChat's date rules and errors, and figures that never change.

公众号文档 "数据统计 / 图文分析" (getarticlesummary, getarticletotal: 最大时间跨度 1) and "用户分析"
(getusersummary, getusercumulate: 最大时间跨度 7), end_date at most yesterday; 全局返回码说明
61500 "date format error", 61501 "date range error".
"""

from datetime import UTC, datetime, timedelta, timezone

import pytest
import requests

from tests.wechat_sandbox.calls import TIMEOUT, assert_wechat_error, fetch_token

APPID = "wx00000000000000f7"
SECRET = "sandbox-statistics-secret"
BEIJING = timezone(timedelta(hours=8))
DAY = 86_400
# Nothing listens here: the pushes an event causes wait for retries; the statistics are what is tested.
UNREACHABLE_CALLBACK = {"url": "http://127.0.0.1:9/wechat/oa/nowhere/", "token": "statisticsToken42"}


class Account:
    def __init__(self, url: str):
        self.url = url
        self.token = fetch_token(url, appid=APPID, secret=SECRET)["access_token"]

    def post(self, path: str, body: dict, *, token: str | None = None) -> dict:
        params = {"access_token": self.token if token is None else token}
        return requests.post(self.url + path, params=params, json=body, timeout=TIMEOUT).json()

    def token_again(self) -> None:
        self.token = fetch_token(self.url, appid=APPID, secret=SECRET)["access_token"]


@pytest.fixture
def account(sandbox, sandbox_server):
    sandbox.register_app(APPID, SECRET, "official_account", callback=UNREACHABLE_CALLBACK)
    yield Account(sandbox_server.url)
    sandbox.remove_app(APPID)


def beijing_day(unix: float, *, days: int = 0) -> str:
    return (datetime.fromtimestamp(unix, tz=UTC).astimezone(BEIJING).date() + timedelta(days=days)).isoformat()


def sandbox_now(sandbox) -> float:
    return sandbox.advance_clock(0)["now"]


@pytest.mark.parametrize(
    ("path", "span_days"),
    [
        ("datacube/getarticlesummary", 1),
        ("datacube/getarticletotal", 1),
        ("datacube/getusersummary", 7),
        ("datacube/getusercumulate", 7),
    ],
)
def test_each_endpoint_takes_its_maximum_span_and_refuses_a_day_more(sandbox, account, path, span_days):
    now = sandbox_now(sandbox)
    end = beijing_day(now, days=-1)
    begin = beijing_day(now, days=-span_days)
    too_early = beijing_day(now, days=-span_days - 1)

    assert "list" in account.post(path, {"begin_date": begin, "end_date": end})
    assert_wechat_error(account.post(path, {"begin_date": too_early, "end_date": end}), 61501, "date range error")


@pytest.mark.parametrize(
    "path",
    ["datacube/getarticlesummary", "datacube/getarticletotal", "datacube/getusersummary", "datacube/getusercumulate"],
)
def test_today_begin_after_end_and_unreadable_dates_are_wechats_errors(sandbox, account, path):
    now = sandbox_now(sandbox)
    today, yesterday = beijing_day(now), beijing_day(now, days=-1)

    assert_wechat_error(account.post(path, {"begin_date": today, "end_date": today}), 61501, "date range error")
    assert_wechat_error(
        account.post(path, {"begin_date": yesterday, "end_date": beijing_day(now, days=-2)}), 61501, "date range error"
    )
    for unreadable in ("20241201", "2024/12/01", "2024-02-30", 20241201, None):
        answer = account.post(path, {"begin_date": unreadable, "end_date": yesterday})
        assert_wechat_error(answer, 61500, "date format error")


def test_the_access_token_is_checked_first(sandbox, account):
    yesterday = beijing_day(sandbox_now(sandbox), days=-1)

    answer = requests.post(
        account.url + "datacube/getusercumulate", json={"begin_date": yesterday, "end_date": yesterday}, timeout=TIMEOUT
    ).json()

    assert_wechat_error(answer, 41001, "access_token missing")


def test_followers_gained_lost_and_counted_per_day(sandbox, account):
    before = sandbox_now(sandbox)
    added = sandbox.add_followers(APPID, count=30)["openids"]
    sandbox.send_follower_event(appid=APPID, openid=added[0], event="unsubscribe")
    sandbox.advance_clock(DAY)
    account.token_again()
    day, day_before = beijing_day(before), beijing_day(before, days=-1)

    changes = account.post("datacube/getusersummary", {"begin_date": day_before, "end_date": day})["list"]
    totals = account.post("datacube/getusercumulate", {"begin_date": day_before, "end_date": day})["list"]

    assert [row for row in changes if row["ref_date"] == day_before] == [
        {"ref_date": day_before, "user_source": 0, "new_user": 0, "cancel_user": 0}
    ]
    on_the_day = [row for row in changes if row["ref_date"] == day]
    assert sum(row["new_user"] for row in on_the_day) == 30
    assert sum(row["cancel_user"] for row in on_the_day) == 1
    assert totals == [{"ref_date": day_before, "cumulate_user": 0}, {"ref_date": day, "cumulate_user": 29}]
    # The same question, the same answer.
    assert account.post("datacube/getusersummary", {"begin_date": day_before, "end_date": day})["list"] == changes
