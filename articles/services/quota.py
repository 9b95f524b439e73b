"""WeChat's mass-send quota windows: a Beijing calendar day (subscription) or month (service)."""

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from articles.models import MassSendQuotaSpent, Push
from wechat.models import OfficialAccount

BEIJING = ZoneInfo("Asia/Shanghai")


def quota_window_start(*, account_type: str, at: datetime) -> date:
    """The first Beijing date of the window holding `at`."""
    day = at.astimezone(BEIJING).date()
    return day if account_type == OfficialAccount.AccountType.SUBSCRIPTION else day.replace(day=1)


def quota_window_bounds(*, account_type: str, at: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the window holding `at`, as aware datetimes."""
    start = quota_window_start(account_type=account_type, at=at)
    if account_type == OfficialAccount.AccountType.SUBSCRIPTION:
        end = start + timedelta(days=1)
    else:
        end = (start + timedelta(days=32)).replace(day=1)
    return datetime.combine(start, time(), BEIJING), datetime.combine(end, time(), BEIJING)


def quota_window_mark_spent(*, account: OfficialAccount, at: datetime, reason: str, push: Push | None = None) -> None:
    """Record WeChat's 45028 so scheduling treats the window as used up; a repeat changes nothing."""
    MassSendQuotaSpent.objects.get_or_create(
        account=account,
        window_start=quota_window_start(account_type=account.account_type, at=at),
        defaults={"reason": reason[:200], "push": push},
    )
