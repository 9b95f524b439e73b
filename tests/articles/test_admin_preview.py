"""“Preview on my WeChat” in the Push admin: the action, its form, and WeChat's message/mass/preview in the sandbox."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse

from articles.models import PushStatus
from tests.articles.pushes import account_registered, push_created

pytestmark = pytest.mark.django_db


@pytest.fixture
def push(sandbox):
    account = account_registered(sandbox)
    return push_created(account, status=PushStatus.DRAFT)


@pytest.fixture
def follower(sandbox, push) -> str:
    return sandbox.add_followers(push.account.appid, count=1)["openids"][0]


def preview_url(push) -> str:
    return reverse("admin:articles_push_preview", args=[push.pk])


def test_the_action_leads_to_the_preview_form_of_the_one_push_picked(admin_client, push):
    answer = admin_client.post(
        reverse("admin:articles_push_changelist"),
        {"action": "preview_on_wechat", "_selected_action": [push.pk]},
    )

    assert answer.status_code == 302 and answer["Location"] == preview_url(push)
    page = admin_client.get(preview_url(push))
    assert page.status_code == 200
    assert "Your openid or WeChat id" in page.content.decode()


def test_the_action_on_two_pushes_asks_for_one(admin_client, push):
    other = push_created(push.account, status=PushStatus.DRAFT)

    answer = admin_client.post(
        reverse("admin:articles_push_changelist"),
        {"action": "preview_on_wechat", "_selected_action": [push.pk, other.pk]},
        follow=True,
    )

    assert "Pick exactly one push to preview." in answer.content.decode()


def test_a_follower_gets_the_preview_and_no_quota_is_used(admin_client, sandbox, push, follower):
    answer = admin_client.post(preview_url(push), {"recipient": follower})

    assert answer.status_code == 302 and answer["Location"] == reverse("admin:articles_push_change", args=[push.pk])
    sent = sandbox.mass_sends(push.account.appid)
    assert sent["count"] == 0
    assert [preview["to"] for preview in sent["previews"]] == [follower]


def test_a_wechat_id_is_sent_as_towxname(admin_client, sandbox, push):
    admin_client.post(preview_url(push), {"recipient": "tea_lover_88"})

    [preview] = sandbox.mass_sends(push.account.appid)["previews"]
    assert preview["to"] == "tea_lover_88"


def test_someone_not_following_is_a_form_error_from_wechat(admin_client, sandbox, push):
    answer = admin_client.post(preview_url(push), {"recipient": "o" + "z" * 27})

    assert answer.status_code == 200
    assert "does not follow this account" in str(answer.context["form"].errors["recipient"])


@pytest.mark.parametrize("recipient", ["", "a b", "<script>", "x" * 65])
def test_a_malformed_recipient_is_a_form_error_and_nothing_is_sent(admin_client, sandbox, push, recipient):
    answer = admin_client.post(preview_url(push), {"recipient": recipient})

    assert answer.status_code == 200
    assert answer.context["form"].errors["recipient"]
    assert sandbox.received() == []


def test_wechat_busy_is_a_form_error(admin_client, sandbox, push, follower):
    sandbox.add_fault("/cgi-bin/message/mass/preview", errcode=-1)

    answer = admin_client.post(preview_url(push), {"recipient": follower})

    assert answer.status_code == 200
    assert "WeChat is busy" in str(answer.context["form"].non_field_errors())


def test_staff_without_the_send_permission_cannot_preview(client, push):
    staff = get_user_model().objects.create_user("writer", password="pw-for-tests-only", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_push"))
    client.force_login(staff)

    assert client.get(preview_url(push)).status_code == 403
    changelist = client.get(reverse("admin:articles_push_changelist"))
    action_form = changelist.context["action_form"]  # None when no action is offered at all
    assert action_form is None or "preview_on_wechat" not in dict(action_form.fields["action"].choices)
