"""A follower sync's status through its status service: every pair, allowed ones with one event, the rest refused.

Then the sync itself (against the sandbox) ending its run through the service, and the timeline in the admin.
"""

import itertools

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from articles.exceptions import FollowerSyncRunTransitionNotAllowed
from articles.models import FollowerSyncRun, FollowerSyncRunEvent
from articles.services.follower_sync_status import ALLOWED_TRANSITIONS, FOLLOWER_SYNC_RUN_STATUS
from articles.services.followers import followers_sync
from config.status_machine import StatusActor
from tests.factories import OfficialAccountFactory
from wechat.errors import WeChatTransientError
from wechat.models import OfficialAccount

pytestmark = pytest.mark.django_db

S = FollowerSyncRun.Status
APPID = "wx00000000000000f2"
SECRET = "sync-status-secret"
NO_WAIT = (0.01,)

# Written out here, apart from the service's table, so a change to the table must be made twice on purpose.
EXPECTED_TRANSITIONS = {(S.RUNNING, S.SUCCEEDED), (S.RUNNING, S.FAILED)}


def test_the_table_is_the_one_written_here():
    assert set(ALLOWED_TRANSITIONS) == EXPECTED_TRANSITIONS


@pytest.mark.parametrize(("from_status", "to_status"), sorted(itertools.product(S.values, repeat=2)))
def test_every_pair_is_changed_with_one_event_or_refused_with_none(from_status, to_status):
    run = FollowerSyncRun.objects.create(account=OfficialAccountFactory(), status=from_status)

    if (from_status, to_status) in EXPECTED_TRANSITIONS:
        FOLLOWER_SYNC_RUN_STATUS.transition(pk=run.pk, to_status=to_status, actor=StatusActor.SYSTEM, reason="why")
    else:
        with pytest.raises(FollowerSyncRunTransitionNotAllowed) as refused:
            FOLLOWER_SYNC_RUN_STATUS.transition(pk=run.pk, to_status=to_status, actor=StatusActor.SYSTEM)
        assert (refused.value.from_status, refused.value.to_status) == (from_status, to_status)

    run.refresh_from_db()
    events = list(run.events.values_list("from_status", "to_status", "actor", "reason"))
    if (from_status, to_status) in EXPECTED_TRANSITIONS:
        assert run.status == to_status and run.finished_at is not None
        assert run.error == ("why" if to_status == S.FAILED else "")
        assert events == [(from_status, to_status, StatusActor.SYSTEM, "why")]
    else:
        assert run.status == from_status and run.finished_at is None
        assert events == []


@pytest.fixture
def account(sandbox):
    account = OfficialAccount.objects.create(
        name="Tea House",
        appid=APPID,
        app_secret=SECRET,
        account_type=OfficialAccount.AccountType.SERVICE,
        callback_token="syncStatusToken1",
        encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        message_mode=OfficialAccount.MessageMode.PLAIN,
    )
    sandbox.register_app(APPID, SECRET, "official_account")
    yield account
    sandbox.remove_app(APPID)


def test_a_sync_ends_its_run_through_the_service_as_the_system(sandbox, account):
    sandbox.add_followers(APPID, count=3)
    followers_sync(account=account, retry_delays=NO_WAIT)
    sandbox.add_fault("/cgi-bin/user/get", errcode=-1, times=len(NO_WAIT) + 1)

    with pytest.raises(WeChatTransientError):
        followers_sync(account=account, retry_delays=NO_WAIT)

    failed, succeeded = FollowerSyncRun.objects.filter(account=account)  # newest first
    assert (succeeded.status, succeeded.followers) == (S.SUCCEEDED, 3)
    assert list(succeeded.events.values_list("from_status", "to_status", "actor", "reason")) == [
        (S.RUNNING, S.SUCCEEDED, StatusActor.SYSTEM, "")
    ]
    [event] = FollowerSyncRunEvent.objects.filter(run=failed)
    assert (event.from_status, event.to_status, event.actor) == (S.RUNNING, S.FAILED, StatusActor.SYSTEM)
    assert event.reason and event.reason == failed.error


def test_marketing_read_a_syncs_timeline(client, django_user_model):
    marketer = django_user_model.objects.create_user(username="marketing", is_staff=True)
    marketer.groups.add(Group.objects.get(name="Marketing"))
    run = FollowerSyncRun.objects.create(account=OfficialAccountFactory())
    FOLLOWER_SYNC_RUN_STATUS.transition(
        pk=run.pk, to_status=S.FAILED, actor=StatusActor.SYSTEM, reason="WeChat busy (errcode -1)"
    )
    client.force_login(marketer)

    page = client.get(reverse("admin:articles_followersyncrun_change", args=[run.pk]))

    assert page.status_code == 200
    text = page.content.decode()
    assert "timeline" in text.lower() and "WeChat busy (errcode -1)" in text
    assert 'name="_save"' not in text
