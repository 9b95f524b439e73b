"""WeChat's mass-send quota windows: a Beijing calendar day (subscription) or month (service).

Pure calendar rules, read by selectors and services alike.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.utils.formats import date_format

from wechat.models import OfficialAccount

BEIJING = ZoneInfo("Asia/Shanghai")


def quota_window_start(*, account_type: str, at: datetime) -> date:
    """The first Beijing date of the window holding `at`."""
    day = at.astimezone(BEIJING).date()
    return day if account_type == OfficialAccount.AccountType.SUBSCRIPTION else day.replace(day=1)


# 群发接口和原创校验 (前言): a subscription account may mass-send once a Beijing day, to all
# followers or to a tag; a service account four times a Beijing calendar month to all followers
# (is_to_all). Sends from WeChat's own console count in both.
MASS_SENDS_PER_WINDOW = {
    OfficialAccount.AccountType.SUBSCRIPTION: 1,
    OfficialAccount.AccountType.SERVICE: 4,
}


def quota_limit(*, account_type: str) -> int:
    return MASS_SENDS_PER_WINDOW[account_type]


def mass_send_uses_quota(*, account_type: str, audience: str) -> bool:
    """Whether a mass send to `audience` ("all", "tag" or "openids") counts in the account's window.

    群发接口和原创校验 (前言): a service account's sends with is_to_all false (a tag, an openid list)
    are not counted; each follower still receives at most four mass messages a month.
    """
    return account_type == OfficialAccount.AccountType.SUBSCRIPTION or audience == "all"


def openid_list_allowed(*, account_type: str) -> bool:
    """message/mass/send (an openid list) is for service accounts only (接口目录: 订阅号不可用)."""
    return account_type == OfficialAccount.AccountType.SERVICE


# 群发接口和原创校验 (前言): "用户每月只能接收4条群发消息，多于4条的群发将对该用户发送失败".
RECEIPTS_PER_FOLLOWER_MONTH = 4


def beijing_month_start(at: datetime) -> date:
    return at.astimezone(BEIJING).date().replace(day=1)


def quota_window_next_start(*, account_type: str, start: date) -> date:
    """The first Beijing date of the window after the one starting on `start`."""
    if account_type == OfficialAccount.AccountType.SUBSCRIPTION:
        return start + timedelta(days=1)
    return (start.replace(day=1) + timedelta(days=32)).replace(day=1)


def quota_window_label(*, account_type: str, start: date) -> str:
    """How staff name a window, in their language: "2026年11月23日" (a day) or "2026年11月" (a month)."""
    if account_type == OfficialAccount.AccountType.SUBSCRIPTION:
        return date_format(start, "DATE_FORMAT")
    return date_format(start, "YEAR_MONTH_FORMAT")


def beijing_time_label(at: datetime) -> str:
    """A moment as staff read it, in Beijing time and their language: "2026年12月1日 00:00"."""
    return date_format(at.astimezone(BEIJING), "DATETIME_FORMAT")
