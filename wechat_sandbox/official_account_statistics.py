"""An Official Account's statistics (datacube): figures for the articles it mass-sent and the followers it has.

Follows 公众号文档 "数据统计 / 图文分析" (getarticlesummary 获取图文群发每日数据, getarticletotal
获取图文群发总数据) and "数据统计 / 用户分析" (getusersummary 获取用户增减数据, getusercumulate
获取累计用户数据): POST {"begin_date", "end_date"} as "YYYY-MM-DD" (Beijing days, both counted)
within each endpoint's "最大时间跨度" (1 day for the article endpoints, 7 for the follower ones),
end_date at most yesterday ("end_date 允许设置的最大值为昨日") on the sandbox clock. 全局返回码说明:
61500 "date format error" for a date that is not YYYY-MM-DD, 61501 "date range error" for
begin after end, a span over the maximum or an end_date from today on.

Articles: only mass sends (群发) are counted, as both article documents say (the English one:
"including group posts only"); publications (freepublish) have no msg_data_id to name them by.
Each article is msgid "<msg_data_id>_<index>" (图文分析: msgid "由msgid（图文消息id，这也就是群发
接口调用后返回的msg_data_id）和index（消息次序索引）组成"). The figures are the sandbox's own,
derived from the account, the msgid and the day, so the same question always gets the same answer:
read on the send day and the six after it, fewer each day but at least 3 readers (so a small
audience still shows), never for a send that failed or reached nobody. getarticlesummary leaves
out an article whose figures add up to less than 3 (图文分析 note 3: "中间页阅读人数+原文页阅读
人数+分享转发人数+分享转发次数+收藏次数 >=3的结果才会得到统计"). getarticletotal lists the
articles mass-sent on ref_date, each with `details`, one per stat_date from the send to yesterday
(at most 7 days), each accumulated from the send to that day; target_user is the send's SentCount.

Followers: new_user on a day are those added then (by count or by openid) or who subscribed then
(a subscribe event); cancel_user those who unsubscribed then. user_source is one of 用户分析's
channels, fixed for each run of generated followers and each openid. A day with no change has one
row, user_source 0 with zeros. cumulate_user counts followers at the end of the day (the sandbox
remembers only each follower's latest subscribe and unsubscribe).
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, timedelta, timezone

from werkzeug.wrappers import Request, Response

from wechat_sandbox.errors import WeChatErrcode
from wechat_sandbox.official_account_followers import AccountFollowers, Followers
from wechat_sandbox.official_account_mass_send import MassSend, MassSends
from wechat_sandbox.official_account_publishing import PublishingLibrary
from wechat_sandbox.protocols import json_response
from wechat_sandbox.routes import Route, json_body_of
from wechat_sandbox.state import Sandbox
from wechat_sandbox.tokens import authenticated_app
from wechat_sandbox.wechat_apps import OFFICIAL_ACCOUNT

BEIJING = timezone(timedelta(hours=8))
DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")
# 最大时间跨度 (数据统计: 图文分析, 用户分析), both ends counted.
ARTICLE_MAX_SPAN_DAYS = 1
USER_MAX_SPAN_DAYS = 7
# Articles are read on their send day and the six after it; getarticletotal's details cover the same week.
READING_DAYS = 7
# 图文分析 note 3: fewer than this in total and getarticlesummary leaves the article out.
SUMMARY_MINIMUM = 3
# 用户分析 (getusersummary, user_source): 0 其他合计, 1 公众号搜索, 17 名片分享, 30 扫描二维码,
# 57 文章内账号名称, 100 微信广告, 149 小程序关注, 161 他人转载, 200 视频号, 201 直播.
USER_SOURCES = (0, 1, 17, 30, 57, 100, 149, 161, 200, 201)
SEND_SUCCESS = "send success"


def _day(value: object) -> date:
    """A "YYYY-MM-DD" date; 61500 for anything else."""
    if not isinstance(value, str) or not DATE_SHAPE.fullmatch(value):
        raise WeChatErrcode(61500)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise WeChatErrcode(61500) from None


def _date_range(sandbox: Sandbox, request: Request, *, max_span_days: int) -> tuple[date, date]:
    body = json_body_of(request)
    begin, end = _day(body.get("begin_date")), _day(body.get("end_date"))
    today = _beijing_day(sandbox.now())
    if begin > end or (end - begin).days + 1 > max_span_days or end >= today:
        raise WeChatErrcode(61501)
    return begin, end


def _beijing_day(at: float) -> date:
    return datetime.fromtimestamp(at, tz=UTC).astimezone(BEIJING).date()


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=BEIJING).timestamp()


def _days(begin: date, end: date) -> list[date]:
    return [begin + timedelta(days=offset) for offset in range((end - begin).days + 1)]


def _number(*parts: object) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:12], 16)


# --- articles ------------------------------------------------------------------------------


def _articles(sandbox: Sandbox, send: MassSend) -> list[tuple[str, str]]:
    """(msgid, title) of each article of a mass send, in order."""
    draft = sandbox.part(PublishingLibrary).drafts.get(send.media_id)
    titles = [str(item.get("title", "")) for item in draft.news_item] if draft else []
    count = max(len(send.article_urls), len(titles), 1)
    return [
        (f"{send.msg_data_id}_{index}", titles[index - 1] if index <= len(titles) else "")
        for index in range(1, count + 1)
    ]


def _read_on(appid: str, send: MassSend, msgid: str, day: date) -> dict[str, int]:
    """An article's figures on one day: the sandbox's own, the same for the same question."""
    after = (day - _beijing_day(send.at)).days
    if send.status != SEND_SUCCESS or not send.sent_count or not 0 <= after < READING_DAYS:
        return dict.fromkeys(_FIGURES, 0)
    mix = _number(appid, msgid, day.isoformat())
    # At least WeChat's floor of 3 while it is read, so that a test's small audience still shows in the summary.
    read_user = send.sent_count // 2 ** (after + 1) + mix % 5 + SUMMARY_MINIMUM
    ori_user = read_user // 4
    share_user = read_user // 5 + (mix >> 8) % 2
    fav_user = read_user // 10
    return {
        "int_page_read_user": read_user,
        "int_page_read_count": read_user + (mix >> 4) % 4,
        "ori_page_read_user": ori_user,
        "ori_page_read_count": ori_user + (mix >> 12) % 2,
        "share_user": share_user,
        "share_count": share_user + (mix >> 16) % 3,
        "add_to_fav_user": fav_user,
        "add_to_fav_count": fav_user + (mix >> 20) % 2,
    }


_FIGURES = (
    "int_page_read_user",
    "int_page_read_count",
    "ori_page_read_user",
    "ori_page_read_count",
    "share_user",
    "share_count",
    "add_to_fav_user",
    "add_to_fav_count",
)


def _account_sends(sandbox: Sandbox, appid: str) -> list[MassSend]:
    return sorted(
        (send for send in sandbox.part(MassSends).sends.values() if send.appid == appid), key=lambda send: send.msg_id
    )


def article_summary(sandbox: Sandbox, request: Request) -> Response:
    """WeChat datacube/getarticlesummary: POST {"begin_date", "end_date"} (one day) gives mass-sent articles' reads.

    {"list": [{"ref_date", "msgid", "title", "int_page_read_user", ...}]}: the articles read
    that day, those whose figures add up to less than 3 left out. 61500 / 61501 for bad dates.
    """
    app = authenticated_app(sandbox, request)
    begin, end = _date_range(sandbox, request, max_span_days=ARTICLE_MAX_SPAN_DAYS)
    rows = []
    with sandbox.lock:
        for day in _days(begin, end):
            for send in _account_sends(sandbox, app.appid):
                for msgid, title in _articles(sandbox, send):
                    figures = _read_on(app.appid, send, msgid, day)
                    counted = sum(
                        figures[name]
                        for name in (
                            "int_page_read_user",
                            "ori_page_read_user",
                            "share_user",
                            "share_count",
                            "add_to_fav_count",
                        )
                    )
                    if counted >= SUMMARY_MINIMUM:
                        rows.append({"ref_date": day.isoformat(), "msgid": msgid, "title": title, **figures})
    return json_response({"list": rows})


def article_total(sandbox: Sandbox, request: Request) -> Response:
    """WeChat datacube/getarticletotal: POST {"begin_date", "end_date"} (one day) gives that day's mass sends' totals.

    {"list": [{"ref_date", "msgid", "title", "details": [{"stat_date", "target_user", ...}]}]}:
    each article mass-sent on ref_date, details one per day from the send to yesterday (at most
    7), accumulated. 61500 / 61501 for bad dates.
    """
    app = authenticated_app(sandbox, request)
    begin, end = _date_range(sandbox, request, max_span_days=ARTICLE_MAX_SPAN_DAYS)
    yesterday = _beijing_day(sandbox.now()) - timedelta(days=1)
    rows = []
    with sandbox.lock:
        for send in _account_sends(sandbox, app.appid):
            sent_on = _beijing_day(send.at)
            if not begin <= sent_on <= end:
                continue
            last = min(sent_on + timedelta(days=READING_DAYS - 1), yesterday)
            for msgid, title in _articles(sandbox, send):
                totals = dict.fromkeys(_FIGURES, 0)
                details = []
                for day in _days(sent_on, last):
                    for name, value in _read_on(app.appid, send, msgid, day).items():
                        totals[name] += value
                    details.append({"stat_date": day.isoformat(), "target_user": send.sent_count, **totals})
                    details[-1].update(_read_sources(totals))
                rows.append({"ref_date": sent_on.isoformat(), "msgid": msgid, "title": title, "details": details})
    return json_response({"list": rows})


def _read_sources(totals: dict[str, int]) -> dict[str, int]:
    """Where the readers came from (图文分析 getarticletotal's int_page_from_* and feed_share_from_*), a fixed split."""
    readers, sharers = totals["int_page_read_user"], totals["share_user"]
    session, history, feed, friends = readers * 6 // 10, readers // 10, readers // 10, readers // 10
    return {
        "int_page_from_session_read_user": session,
        "int_page_from_hist_msg_read_user": history,
        "int_page_from_feed_read_user": feed,
        "int_page_from_friends_read_user": friends,
        "int_page_from_other_read_user": readers - session - history - feed - friends,
        "feed_share_from_session_user": sharers // 2,
        "feed_share_from_feed_user": sharers // 4,
        "feed_share_from_other_user": sharers - sharers // 2 - sharers // 4,
    }


# --- followers -----------------------------------------------------------------------------


def _source(*parts: object) -> int:
    return USER_SOURCES[_number(*parts) % len(USER_SOURCES)]


def _source_of(account: AccountFollowers, openid: str) -> int:
    index = account._generated_index(openid)
    if index is not None and openid not in account.by_openid:
        return _source(account.appid, "run", account._run_of(index).start)
    return _source(account.appid, openid)


def _changes_on(account: AccountFollowers, day: date) -> list[dict]:
    start, end = _day_start(day), _day_start(day + timedelta(days=1))
    new: dict[int, int] = {}
    cancelled: dict[int, int] = {}
    for run in account.runs:
        if start <= run.added_at < end:
            source = _source(account.appid, "run", run.start)
            new[source] = new.get(source, 0) + run.count
    for openid, at in account.subscribed_at.items():
        if start <= at < end:
            source = _source_of(account, openid)
            new[source] = new.get(source, 0) + 1
    for openid, at in account.unsubscribed_at.items():
        if start <= at < end:
            source = _source_of(account, openid)
            cancelled[source] = cancelled.get(source, 0) + 1
    sources = sorted(set(new) | set(cancelled)) or [0]
    return [
        {
            "ref_date": day.isoformat(),
            "user_source": source,
            "new_user": new.get(source, 0),
            "cancel_user": cancelled.get(source, 0),
        }
        for source in sources
    ]


def _followers_at_end_of(account: AccountFollowers, day: date) -> int:
    end = _day_start(day + timedelta(days=1))
    generated = sum(run.count for run in account.runs if run.added_at < end)
    named = sum(1 for openid in account.by_openid if account.subscribed_at.get(openid, float("inf")) < end)
    left = sum(1 for openid in account.unsubscribed if account.unsubscribed_at.get(openid, float("inf")) < end)
    return generated + named - left


def user_summary(sandbox: Sandbox, request: Request) -> Response:
    """WeChat datacube/getusersummary: POST {"begin_date", "end_date"} (up to 7 days) gives followers gained and lost.

    {"list": [{"ref_date", "user_source", "new_user", "cancel_user"}]}, per day and channel;
    a day without change has one row of zeros (user_source 0). 61500 / 61501 for bad dates.
    """
    app = authenticated_app(sandbox, request)
    begin, end = _date_range(sandbox, request, max_span_days=USER_MAX_SPAN_DAYS)
    with sandbox.lock:
        account = sandbox.part(Followers).of(app.appid)
        rows = [row for day in _days(begin, end) for row in _changes_on(account, day)]
    return json_response({"list": rows})


def user_cumulate(sandbox: Sandbox, request: Request) -> Response:
    """WeChat datacube/getusercumulate: POST {"begin_date", "end_date"} (up to 7 days) gives followers at days' ends.

    {"list": [{"ref_date", "cumulate_user"}]}, one per day. 61500 / 61501 for bad dates.
    """
    app = authenticated_app(sandbox, request)
    begin, end = _date_range(sandbox, request, max_span_days=USER_MAX_SPAN_DAYS)
    with sandbox.lock:
        account = sandbox.part(Followers).of(app.appid)
        rows = [
            {"ref_date": day.isoformat(), "cumulate_user": _followers_at_end_of(account, day)}
            for day in _days(begin, end)
        ]
    return json_response({"list": rows})


ROUTES = (
    Route("/datacube/getarticlesummary", ("POST",), article_summary, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/datacube/getarticletotal", ("POST",), article_total, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/datacube/getusersummary", ("POST",), user_summary, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/datacube/getusercumulate", ("POST",), user_cumulate, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
)
