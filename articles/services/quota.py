"""WeChat's mass-send quota as it is spent: which pushes use it, 45028 answers, and console sends.

群发接口和原创校验 (前言): a subscription account has one mass send a Beijing day (to all or a
tag); a service account four sends to all followers a Beijing month; sends made in WeChat's
console count in both. The windows are in articles/quota_windows.py.
"""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from articles.models import ConsoleMassSend, MassSendQuotaSpent, Push, PushMode
from articles.quota_windows import mass_send_uses_quota, quota_window_start
from config.errors import ApplicationError
from wechat.models import OfficialAccount

# Staff's clock and ours may differ a little.
CONSOLE_SEND_CLOCK_SLACK = timedelta(minutes=5)


class ConsoleSendInvalid(ApplicationError):
    code = "console_send_invalid"
    message = gettext_lazy("The console send cannot be recorded as it is.")


def push_uses_quota(push: Push) -> bool:
    """Whether `push` takes one of its account's mass sends for its window."""
    return push.mode == PushMode.MASS_SEND and mass_send_uses_quota(
        account_type=push.account.account_type, audience=push.audience
    )


def quota_window_mark_spent(*, account: OfficialAccount, at: datetime, reason: str, push: Push | None = None) -> None:
    """Record WeChat's 45028 so scheduling treats the window as used up; a repeat changes nothing.

    Only for a send that uses quota: a service account's 45028 on a tag or openid send says
    nothing about its four sends to all followers.
    """
    if push is not None and not push_uses_quota(push):
        return
    MassSendQuotaSpent.objects.get_or_create(
        account=account,
        window_start=quota_window_start(account_type=account.account_type, at=at),
        defaults={"reason": reason[:200], "push": push},
    )


def console_send_time_check(sent_at: datetime | None) -> None:
    """ConsoleSendInvalid unless `sent_at` is a time that has come: a console send is recorded after it is made."""
    if sent_at is None:
        raise ConsoleSendInvalid(fields={"sent_at": [_("When was it sent? Give the Beijing time.")]})
    if sent_at > timezone.now() + CONSOLE_SEND_CLOCK_SLACK:
        raise ConsoleSendInvalid(
            fields={"sent_at": [_("That time has not come yet: record a console send once it has been made.")]}
        )


def console_send_record(
    *, account: OfficialAccount, sent_at: datetime, note: str = "", staff_user: AbstractBaseUser | None = None
) -> ConsoleMassSend:
    """Record a mass send made in WeChat's console; it counts in the window holding `sent_at`."""
    console_send_time_check(sent_at)
    return ConsoleMassSend.objects.create(
        account=account, sent_at=sent_at, note=note.strip()[:200], recorded_by=staff_user
    )
