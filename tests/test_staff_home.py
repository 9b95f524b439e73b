"""The admin's home page follows the user's role, and its queries do not grow with the data."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from articles.models import Follower, PushBatch, PushStatus
from orders.models import ReconciliationRun
from tests.articles.push_builders import service_account, subscription_account
from tests.factories import PushFactory, SkuFactory
from tests.orders.reconciliation_helpers import order_of

pytestmark = pytest.mark.django_db


def _staff(username: str, group: str | None):
    user = get_user_model().objects.create_user(username, password="pw-for-tests-only", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.mark.usefixtures("staff_groups")
@pytest.mark.parametrize(
    ("group", "sections"),
    [
        ("Marketing", {"marketing-home"}),
        ("Operations", {"operations-home"}),
        (None, set()),
    ],
)
def test_each_role_sees_its_home_page(client, group, sections):
    client.force_login(_staff("someone", group))

    page = client.get("/admin/").content.decode()

    assert {name for name in ("marketing-home", "operations-home") if f'id="{name}"' in page} == sections
    if not sections:
        assert "staff-home" not in page


def test_a_superuser_sees_both_home_pages(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-for-tests-only"))

    page = client.get("/admin/").content.decode()

    assert 'id="marketing-home"' in page and 'id="operations-home"' in page


def _some_of_everything(number: int) -> None:
    now = timezone.now()
    account = subscription_account() if number % 2 else service_account()
    push = PushFactory(account=account, status=PushStatus.SENT, scheduled_at=now, sent_at=now - timedelta(days=1))
    PushBatch.objects.create(push=push, number=1, clientmsgid=f"home-{push.pk}", sent_count=3, filter_count=1)
    PushFactory(account=account, status=PushStatus.SCHEDULED, scheduled_at=now + timedelta(days=number + 1))
    Follower.objects.create(account=account, openid=f"o-home-{number}", subscribed_at=now - timedelta(days=number))
    order_of(100 + number)
    SkuFactory(stock=number % 3)
    ReconciliationRun.objects.create(
        bill_date=now.date() - timedelta(days=number + 1), triggered_by="beat", status="succeeded", started_at=now
    )


def test_the_home_pages_queries_do_not_grow_with_the_data(client, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(get_user_model().objects.create_superuser("root", password="pw-for-tests-only"))
    _some_of_everything(0)
    with CaptureQueriesContext(connection) as few:
        assert client.get("/admin/").status_code == 200

    for number in range(1, 9):
        _some_of_everything(number)
    with django_assert_max_num_queries(len(few)):
        page = client.get("/admin/").content.decode()
    assert page.count('class="reach-sent"') == 9
