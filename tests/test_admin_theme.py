"""The admin on its theme: beat's schedules for superusers only, and no internal labels above inline rows."""

import html
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission

from articles.models import PushBatch
from tests.articles.push_builders import beijing, draft_push, future_day, subscription_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketing_member(staff_groups):
    user = get_user_model().objects.create_user("mei", password="pw-for-tests-only", is_staff=True)
    user.groups.add(Group.objects.get(name="Marketing"))
    return user


def test_beats_schedules_are_out_of_the_staff_menu_even_with_a_permission(client, marketing_member):
    # A group granted beat's permissions still does not reach them: they are machinery.
    marketing_member.user_permissions.add(*Permission.objects.filter(content_type__app_label="django_celery_beat"))
    client.force_login(marketing_member)

    index = client.get("/admin/").content.decode()

    assert "/admin/django_celery_beat/" not in index
    assert "/admin/articles/push/" in index
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 403


def test_a_superuser_still_sees_and_opens_beats_schedules(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-for-tests-only"))

    assert "/admin/django_celery_beat/periodictask/" in client.get("/admin/").content.decode()
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 200


def test_inline_rows_carry_no_internal_label_above_them(client):
    from articles.services.pushes import push_schedule

    client.force_login(get_user_model().objects.create_superuser("root", password="pw-for-tests-only"))
    push = draft_push(subscription_account(), articles=2)
    push = push_schedule(push_id=push.pk, at=beijing(future_day(), 9), staff_user=None)
    batch = PushBatch.objects.create(push=push, number=1, clientmsgid=f"label-{push.pk}")

    page = html.unescape(client.get(f"/admin/articles/push/{push.pk}/change/").content.decode())

    labels = [str(batch), str(push.events.get()), *(str(row) for row in push.push_articles.all())]
    assert push.events.exists() and len(labels) == 4
    for label in labels:
        assert not re.search(rf">\s*{re.escape(label)}\s*<", page), label
