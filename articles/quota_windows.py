"""WeChat's mass-send quota windows: a Beijing calendar day (subscription) or month (service).

Pure calendar rules, read by selectors and services alike.
"""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from wechat.models import OfficialAccount

BEIJING = ZoneInfo("Asia/Shanghai")


def quota_window_start(*, account_type: str, at: datetime) -> date:
    """The first Beijing date of the window holding `at`."""
    day = at.astimezone(BEIJING).date()
    return day if account_type == OfficialAccount.AccountType.SUBSCRIPTION else day.replace(day=1)


# 群发接口和原创校验: a subscription account may mass-send once a Beijing day, a service account
# four times a Beijing calendar month.
MASS_SENDS_PER_WINDOW = {
    OfficialAccount.AccountType.SUBSCRIPTION: 1,
    OfficialAccount.AccountType.SERVICE: 4,
}


def quota_limit(*, account_type: str) -> int:
    return MASS_SENDS_PER_WINDOW[account_type]


def quota_window_next_start(*, account_type: str, start: date) -> date:
    """The first Beijing date of the window after the one starting on `start`."""
    if account_type == OfficialAccount.AccountType.SUBSCRIPTION:
        return start + timedelta(days=1)
    return (start.replace(day=1) + timedelta(days=32)).replace(day=1)


def quota_window_label(*, account_type: str, start: date) -> str:
    """How staff name a window: "23 November 2026" (a day) or "November 2026" (a month)."""
    if account_type == OfficialAccount.AccountType.SUBSCRIPTION:
        return f"{start.day} {start:%B %Y}"
    return f"{start:%B %Y}"


def beijing_time_label(at: datetime) -> str:
    """A moment as staff read it, in Beijing time: "1 December 2026, 00:00"."""
    local = at.astimezone(BEIJING)
    return f"{local.day} {local:%B %Y, %H:%M}"
