"""Recording that WeChat says a mass-send quota window is used up."""

from datetime import datetime

from articles.models import MassSendQuotaSpent, Push
from articles.quota_windows import quota_window_start
from wechat.models import OfficialAccount


def quota_window_mark_spent(*, account: OfficialAccount, at: datetime, reason: str, push: Push | None = None) -> None:
    """Record WeChat's 45028 so scheduling treats the window as used up; a repeat changes nothing."""
    MassSendQuotaSpent.objects.get_or_create(
        account=account,
        window_start=quota_window_start(account_type=account.account_type, at=at),
        defaults={"reason": reason[:200], "push": push},
    )
