"""The admin's read-only follower and tag lists, and the "sync followers now" action."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from articles.models import Follower, FollowerSyncRun, FollowerTag
from config.celery import app as celery_app
from wechat.models import OfficialAccount

pytestmark = pytest.mark.django_db

APPID = "wx00000000000000f2"
SECRET = "follower-admin-secret"
# Session, user, two permission lookups, the accounts never synced (the first sync's offer), the account
# filter's choices, the filtered count, the page of rows.
CHANGELIST_QUERY_LIMIT = 8


def make_account(name: str, appid: str) -> OfficialAccount:
    return OfficialAccount.objects.create(
        name=name,
        appid=appid,
        app_secret=SECRET,
        account_type=OfficialAccount.AccountType.SUBSCRIPTION,
        callback_token="adminToken42",
        encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    )


@pytest.fixture
def accounts():
    return make_account("Tea House", APPID), make_account("Coffee Corner", "wx00000000000000f3")


@pytest.fixture
def followers(accounts):
    tea, coffee = accounts
    at = datetime(2026, 5, 1, tzinfo=UTC)
    Follower.objects.bulk_create(
        [Follower(account=tea, openid=f"oTea{number:024d}", subscribed_at=at) for number in range(30)]
        + [Follower(account=tea, openid="oTeaGone", nickname="Old friend", is_subscribed=False)]
        + [Follower(account=coffee, openid=f"oCoffee{number:021d}", subscribed_at=at) for number in range(5)]
    )


@pytest.fixture
def marketer(django_user_model):
    user = django_user_model.objects.create_user(username="marketer", is_staff=True)
    user.groups.add(Group.objects.get(name="Marketing"))
    return user


@pytest.fixture
def operator(django_user_model):
    user = django_user_model.objects.create_user(username="operator", is_staff=True)
    user.groups.add(Group.objects.get(name="Operations"))
    return user


@pytest.fixture
def tasks_run_inline():
    """The action's task runs in the request, against the sandbox, so its outcome can be read at once."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_followers_list_filters_by_account_and_subscription_in_bounded_queries(
    client, marketer, accounts, followers, django_assert_max_num_queries
):
    client.force_login(marketer)
    tea = accounts[0]

    with django_assert_max_num_queries(CHANGELIST_QUERY_LIMIT):
        response = client.get(
            reverse("admin:articles_follower_changelist"), {"account__id__exact": tea.pk, "is_subscribed__exact": "1"}
        )

    assert response.status_code == 200
    assert {follower.openid[:4] for follower in response.context["cl"].result_list} == {"oTea"}
    assert response.context["cl"].result_count == 30


def test_followers_are_found_by_openid_or_nickname(client, marketer, followers):
    client.force_login(marketer)

    by_nickname = client.get(reverse("admin:articles_follower_changelist"), {"q": "old friend"})
    by_openid = client.get(reverse("admin:articles_follower_changelist"), {"q": "oCoffee000000000000000000003"})

    assert [follower.openid for follower in by_nickname.context["cl"].result_list] == ["oTeaGone"]
    assert [follower.openid for follower in by_openid.context["cl"].result_list] == ["oCoffee000000000000000000003"]


def test_followers_and_tags_are_read_only_even_for_a_superuser(admin_client, followers, accounts):
    tag = FollowerTag.objects.create(account=accounts[0], tag_id=100, name="VIP", follower_count=3)
    follower = Follower.objects.get(openid="oTeaGone")

    assert admin_client.get(reverse("admin:articles_follower_add")).status_code == 403
    assert admin_client.get(reverse("admin:articles_followertag_add")).status_code == 403
    page = admin_client.get(reverse("admin:articles_follower_change", args=[follower.pk]))
    assert page.status_code == 200 and b'name="_save"' not in page.content
    refused = admin_client.post(reverse("admin:articles_followertag_delete", args=[tag.pk]), {"post": "yes"})
    assert refused.status_code == 403 and FollowerTag.objects.filter(pk=tag.pk).exists()


def test_tags_list_per_account(client, marketer, accounts):
    tea, coffee = accounts
    FollowerTag.objects.create(account=tea, tag_id=100, name="VIP", follower_count=3)
    FollowerTag.objects.create(account=coffee, tag_id=100, name="Espresso fans", follower_count=9)
    client.force_login(marketer)

    response = client.get(reverse("admin:articles_followertag_changelist"), {"account__id__exact": coffee.pk})

    assert [tag.name for tag in response.context["cl"].result_list] == ["Espresso fans"]


def test_accounts_list_counts_subscribed_followers_and_tags(client, marketer, accounts, followers):
    FollowerTag.objects.create(account=accounts[0], tag_id=100, name="VIP")
    client.force_login(marketer)

    response = client.get(reverse("admin:articles_followedaccount_changelist"))

    rows = {
        account.appid: (account.subscribed_count, account.tag_count) for account in response.context["cl"].result_list
    }
    assert rows == {APPID: (30, 1), "wx00000000000000f3": (5, 0)}


def test_marketing_syncs_an_accounts_followers_from_the_admin(client, marketer, accounts, sandbox, tasks_run_inline):
    tea = accounts[0]
    sandbox.register_app(APPID, SECRET, "official_account")
    try:
        sandbox.add_followers(APPID, count=42)
        client.force_login(marketer)

        response = client.post(
            reverse("admin:articles_followedaccount_changelist"),
            {"action": "sync_followers_now", "_selected_action": [tea.pk]},
            follow=True,
        )
    finally:
        sandbox.remove_app(APPID)

    assert "Follower sync queued for 1 account(s)" in response.content.decode()
    assert Follower.objects.filter(account=tea, is_subscribed=True).count() == 42
    assert "succeeded" in response.content.decode()  # the list's "last sync"


def test_the_accounts_list_shows_why_the_last_sync_failed(client, marketer, accounts):
    FollowerSyncRun.objects.create(account=accounts[0], status="succeeded")
    FollowerSyncRun.objects.create(account=accounts[0], status="failed", error="WeChat busy (errcode -1)")
    client.force_login(marketer)

    page = client.get(reverse("admin:articles_followedaccount_changelist")).content.decode()

    assert "failed: WeChat busy (errcode -1)" in page
    assert "never" in page  # the other account has not been synced
    assert client.get(reverse("admin:articles_followersyncrun_changelist")).status_code == 200


def test_staff_without_the_sync_permission_are_not_offered_the_action(client, operator, marketer, accounts):
    client.force_login(marketer)
    offered = client.get(reverse("admin:articles_followedaccount_changelist"))
    client.force_login(operator)
    refused = client.get(reverse("admin:articles_followedaccount_changelist"))

    assert "sync_followers_now" in offered.context["action_form"].fields["action"].choices.__repr__()
    assert refused.status_code == 403  # Operations may not even see the followers


def test_the_followers_pages_offer_the_first_sync_of_accounts_never_synced(client, marketer, accounts):
    FollowerSyncRun.objects.create(account=accounts[1], status="succeeded")
    client.force_login(marketer)

    for url in (reverse("admin:articles_follower_changelist"), reverse("admin:articles_followedaccount_changelist")):
        page = client.get(url).content.decode()
        offer = page[page.index('id="first-sync-offer"') :]
        assert "<strong>Tea House</strong>." in offer and "Coffee Corner</strong>" not in offer
        assert reverse("admin:articles_followedaccount_first_sync") in offer


def test_the_first_sync_button_syncs_the_accounts_never_synced_and_the_offer_goes(
    client, marketer, accounts, sandbox, tasks_run_inline
):
    tea, coffee = accounts
    FollowerSyncRun.objects.create(account=coffee, status="succeeded")
    sandbox.register_app(APPID, SECRET, "official_account")
    try:
        sandbox.add_followers(APPID, count=12)
        client.force_login(marketer)
        followers_page = reverse("admin:articles_follower_changelist")

        response = client.post(
            reverse("admin:articles_followedaccount_first_sync"), {"next": followers_page}, follow=True
        )
    finally:
        sandbox.remove_app(APPID)

    assert response.redirect_chain[-1][0] == followers_page
    assert "Follower sync started for Tea House" in response.content.decode()
    assert Follower.objects.filter(account=tea, is_subscribed=True).count() == 12
    assert FollowerSyncRun.objects.filter(account=coffee).count() == 1  # a synced account is left to beat
    assert 'id="first-sync-offer"' not in response.content.decode()


def test_staff_who_may_not_sync_are_not_offered_the_first_sync(client, django_user_model, accounts):
    reader = django_user_model.objects.create_user(username="reader", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_follower"))
    client.force_login(reader)

    page = client.get(reverse("admin:articles_follower_changelist")).content.decode()
    refused = client.post(reverse("admin:articles_followedaccount_first_sync"))

    assert 'id="first-sync-offer"' not in page
    assert refused.status_code == 403
