"""An Official Account's statistics from WeChat's datacube: articles' reads and followers' growth.

公众号文档 "数据统计 / 图文分析" (getarticlesummary 获取图文群发每日数据, getarticletotal 获取图文
群发总数据) and "数据统计 / 用户分析" (getusersummary 获取用户增减数据, getusercumulate 获取累计
用户数据). Each takes begin_date and end_date (YYYY-MM-DD, Beijing days) within its "最大时间跨度":
1 day for the two article endpoints, 7 for the two follower ones (both dates count: a span of 7
is begin..begin+6). end_date is at most yesterday ("end_date 允许设置的最大值为昨日"), and
yesterday's figures are ready after 8:00 Beijing time ("为确保公众号数据已完成统计和处理，请于
每天上午8点后查询公众号前一天的数据"). Data starts on 2014-12-01 ("仅存储了2014年12月1日之后的数据").

A range WeChat would refuse (61501 date range error, 61500 date format error in 全局返回码说明)
is refused here before any call, with StatisticsDateRangeRefused; WeChat's own refusals arrive as
wechat.errors' transient/permanent split, as from every other call.

getarticlesummary counts 群发 (mass-sent) articles only, each named by msgid "<msg_data_id>_<index>"
(图文分析: "这里的msgid实际上是由msgid（图文消息id，这也就是群发接口调用后返回的msg_data_id）和
index（消息次序索引）组成"), and leaves out an article whose figures add up to less than 3.
getarticletotal lists the articles mass-sent on ref_date, each with `details`: one entry per
stat_date, each the figures accumulated from the send to that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from wechat.clients import SharedTokenClient
from wechat.errors import BEIJING

ARTICLE_SUMMARY, ARTICLE_TOTAL = "getarticlesummary", "getarticletotal"
USER_SUMMARY, USER_CUMULATE = "getusersummary", "getusercumulate"
# 最大时间跨度, in days counting both ends.
MAX_SPAN_DAYS = {ARTICLE_SUMMARY: 1, ARTICLE_TOTAL: 1, USER_SUMMARY: 7, USER_CUMULATE: 7}
FIRST_DAY = date(2014, 12, 1)
# Yesterday's figures are complete from this Beijing hour on.
READY_HOUR_BEIJING = 8

# The figures of an article on a day (getarticlesummary) or accumulated to a day (getarticletotal's details).
ARTICLE_FIGURES = (
    "int_page_read_user",
    "int_page_read_count",
    "ori_page_read_user",
    "ori_page_read_count",
    "share_user",
    "share_count",
    "add_to_fav_user",
    "add_to_fav_count",
)


class StatisticsDateRangeRefused(ValueError):
    """A date range WeChat would answer 61501 for: refused before calling it."""


@dataclass(frozen=True)
class ArticleDay:
    """getarticlesummary: one mass-sent article's figures on one day."""

    ref_date: date
    msgid: str  # "<msg_data_id>_<index>"
    title: str
    figures: dict[str, int]


@dataclass(frozen=True)
class ArticleTotalDay:
    """One entry of getarticletotal's details: an article's figures from its send to stat_date."""

    sent_on: date  # ref_date: the day it was mass-sent
    msgid: str
    title: str
    stat_date: date
    target_user: int
    figures: dict[str, int]
    details: dict = field(default_factory=dict)  # everything WeChat sent for that stat_date


@dataclass(frozen=True)
class FollowerSourceDay:
    """getusersummary: followers gained and lost through one channel (user_source) on one day."""

    ref_date: date
    user_source: int
    new_user: int
    cancel_user: int


@dataclass(frozen=True)
class FollowerTotalDay:
    """getusercumulate: how many followed the account at the end of one day."""

    ref_date: date
    cumulate_user: int


def beijing_today(now: datetime) -> date:
    return now.astimezone(BEIJING).date()


def latest_ready_day(now: datetime) -> date:
    """The latest day whose figures WeChat has finished: yesterday after 8:00 Beijing time, else the day before."""
    beijing = now.astimezone(BEIJING)
    days_back = 1 if beijing.hour >= READY_HOUR_BEIJING else 2
    return beijing.date() - timedelta(days=days_back)


def statistics_range_check(endpoint: str, *, begin: date, end: date, today: date) -> None:
    """Refuse what WeChat would refuse with 61501: begin after end, a span over the endpoint's, end after yesterday.

    Also a begin before 2014-12-01: WeChat answers, but calls what it gives for those days untrustworthy.
    """
    span = MAX_SPAN_DAYS[endpoint]
    if begin > end:
        raise StatisticsDateRangeRefused(f"{endpoint}: begin_date {begin} is after end_date {end}")
    if (end - begin).days + 1 > span:
        raise StatisticsDateRangeRefused(f"{endpoint}: {begin}..{end} is over its maximum span of {span} day(s)")
    if end >= today:
        raise StatisticsDateRangeRefused(f"{endpoint}: end_date {end} is not before {today} (at most yesterday)")
    if begin < FIRST_DAY:
        raise StatisticsDateRangeRefused(f"{endpoint}: WeChat keeps no figures before {FIRST_DAY}")


def article_days(client: SharedTokenClient, *, begin: date, end: date, today: date) -> list[ArticleDay]:
    statistics_range_check(ARTICLE_SUMMARY, begin=begin, end=end, today=today)
    return [
        ArticleDay(
            ref_date=_day(item["ref_date"]),
            msgid=str(item["msgid"]),
            title=str(item.get("title") or ""),
            figures=_figures(item),
        )
        for item in client.datacube.get_article_summary(begin, end)
    ]


def article_total_days(client: SharedTokenClient, *, begin: date, end: date, today: date) -> list[ArticleTotalDay]:
    statistics_range_check(ARTICLE_TOTAL, begin=begin, end=end, today=today)
    return [
        ArticleTotalDay(
            sent_on=_day(item["ref_date"]),
            msgid=str(item["msgid"]),
            title=str(item.get("title") or ""),
            stat_date=_day(detail["stat_date"]),
            target_user=_count(detail.get("target_user")),
            figures=_figures(detail),
            details=dict(detail),
        )
        for item in client.datacube.get_article_total(begin, end)
        for detail in item.get("details") or []
    ]


def follower_source_days(client: SharedTokenClient, *, begin: date, end: date, today: date) -> list[FollowerSourceDay]:
    statistics_range_check(USER_SUMMARY, begin=begin, end=end, today=today)
    return [
        FollowerSourceDay(
            ref_date=_day(item["ref_date"]),
            user_source=_count(item.get("user_source")),
            new_user=_count(item.get("new_user")),
            cancel_user=_count(item.get("cancel_user")),
        )
        for item in client.datacube.get_user_summary(begin, end)
    ]


def follower_total_days(client: SharedTokenClient, *, begin: date, end: date, today: date) -> list[FollowerTotalDay]:
    statistics_range_check(USER_CUMULATE, begin=begin, end=end, today=today)
    return [
        FollowerTotalDay(ref_date=_day(item["ref_date"]), cumulate_user=_count(item.get("cumulate_user")))
        for item in client.datacube.get_user_cumulate(begin, end)
    ]


def _day(value: str) -> date:
    return date.fromisoformat(str(value)[:10])


def _count(value: object) -> int:
    """A figure as a whole number (WeChat sends numbers; anything else counts as 0)."""
    return int(value) if isinstance(value, str | int) and str(value).isdigit() else 0


def _figures(item: dict) -> dict[str, int]:
    return {name: _count(item.get(name)) for name in ARTICLE_FIGURES}
