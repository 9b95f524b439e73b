"""Pushes built as staff build them (through push_create), and Beijing times to schedule them at."""

from datetime import date, datetime, time, timedelta

from django.utils import timezone

from articles.models import Push, PushAudience, PushMode
from articles.quota_windows import BEIJING
from articles.services.pushes import push_create
from tests.factories import ArticleFactory, OfficialAccountFactory
from wechat.models import OfficialAccount


def beijing(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), BEIJING)


def beijing_today() -> date:
    return timezone.now().astimezone(BEIJING).date()


def future_day(days: int = 30) -> date:
    """A Beijing date far enough ahead that every time on it can still be scheduled."""
    return beijing_today() + timedelta(days=days)


def future_month_start(months_ahead: int = 2) -> date:
    start = beijing_today().replace(day=1)
    for _ in range(months_ahead):
        start = (start + timedelta(days=32)).replace(day=1)
    return start


def subscription_account(**fields) -> OfficialAccount:
    return OfficialAccountFactory(account_type=OfficialAccount.AccountType.SUBSCRIPTION, **fields)


def service_account(**fields) -> OfficialAccount:
    return OfficialAccountFactory(account_type=OfficialAccount.AccountType.SERVICE, **fields)


def draft_push(
    account: OfficialAccount,
    *,
    mode: str = PushMode.MASS_SEND,
    articles: int = 1,
    title: str = "Autumn tea",
    staff_user=None,
) -> Push:
    return push_create(
        account=account,
        title=title,
        mode=mode,
        audience=PushAudience.ALL,
        article_ids=[article.pk for article in ArticleFactory.create_batch(articles)],
        staff_user=staff_user,
    )


def openid(number: int) -> str:
    """A well-formed openid: 28 characters, as WeChat issues them."""
    return f"oTest{number:023d}"
