"""Followers and tags synced from the WeChat sandbox over HTTP, and kept current by its events.

WeChat's rules (公众号文档): 用户管理 / 获取用户列表 (user/get, 10,000 openids a page, paged
by next_openid, a page with count 0 at the end), 批量获取用户基本信息 (batchget, at most
100 a call), 用户标签管理 (tags/get, tags/create, batchtagging), 接收事件推送 / 关注/取消关注
事件 (subscribe, unsubscribe; WeChat retries a push it thinks unanswered).
"""

import gc
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.cache import cache
from django_celery_beat.models import PeriodicTask

from articles.models import Follower, FollowerSyncRun, FollowerTag
from articles.services.follower_store import FollowerSyncWriter
from articles.services.followers import follower_subscription_record, followers_sync
from articles.tasks import sync_account_followers, sync_followers_of_every_account
from config.celery import app as celery_app
from wechat.clients import client_for_official_account
from wechat.errors import WeChatTransientError
from wechat.models import OfficialAccount
from wechat.official_account_followers import FollowerInfo
from wechat_sandbox.official_account_push import message_xml, original_id, signature

APPID = "wx00000000000000f1"
SECRET = "followers-secret"
TOKEN = "followersToken42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
# Where the sandbox delivers pushes when a test does not want them: nothing listens there, so they wait for retries.
UNREACHABLE_CALLBACK = "http://127.0.0.1:9/wechat/oa/nowhere/"
NO_WAIT = (0.01, 0.01)


@pytest.fixture
def account(sandbox):
    account = OfficialAccount.objects.create(
        name="Tea House",
        appid=APPID,
        app_secret=SECRET,
        account_type=OfficialAccount.AccountType.SERVICE,
        callback_token=TOKEN,
        encoding_aes_key=AES_KEY,
        message_mode=OfficialAccount.MessageMode.PLAIN,
    )
    sandbox.register_app(APPID, SECRET, "official_account", callback={"url": UNREACHABLE_CALLBACK, "token": TOKEN})
    yield account
    sandbox.remove_app(APPID)


def subscribed_openids(account) -> set[str]:
    return set(Follower.objects.filter(account=account, is_subscribed=True).values_list("openid", flat=True))


def sync(account):
    return followers_sync(account=account, retry_delays=NO_WAIT)


# --- the sync -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_sync_pages_user_get_past_10000_and_asks_batchget_100_at_a_time(sandbox, account):
    first, last = sandbox.add_followers(APPID, count=10_001)["openids"]  # past 10,000 it lists the two ends
    ten_thousandth = first[:-4] + "9999"  # the sandbox numbers generated openids in their last digits
    sandbox.add_followers(APPID, openids=["oNamedFollower00000000000001"])

    result = sync(account)

    assert (result.followers, result.unsubscribed, result.skipped) == (10_002, 0, False)
    assert Follower.objects.filter(account=account, is_subscribed=True).count() == 10_002
    pages = sandbox.received("/cgi-bin/user/get")
    # The second page starts after the first's last openid; the third is empty and ends the list.
    after = [page["query"].get("next_openid") for page in pages]
    assert after == [None, ten_thousandth, "oNamedFollower00000000000001"]
    batches = [len(json.loads(call["body"])["user_list"]) for call in sandbox.received("/cgi-bin/user/info/batchget")]
    # Made concurrently (FOLLOWER_SYNC_CONCURRENCY), so they arrive in any order.
    assert sorted(batches, reverse=True) == [100] * 100 + [2]
    assert Follower.objects.filter(openid__in=[first, ten_thousandth, last]).count() == 3
    follower = Follower.objects.get(account=account, openid=first)
    assert follower.synced_at is not None and abs(follower.subscribed_at.timestamp() - time.time()) < 120
    assert follower.nickname == ""  # WeChat no longer gives nicknames


@pytest.mark.django_db
def test_tags_and_each_followers_tags_come_from_wechat(sandbox, account):
    client = client_for_official_account(account)
    vip = client.tag.create("VIP")["id"]
    tea = client.tag.create("Tea lovers")["id"]
    openids = sandbox.add_followers(APPID, count=120, tag_ids=[tea])["openids"]
    client.tag.tag_user(vip, openids[:50])
    client.tag.tag_user(vip, openids[50:60])
    stale = FollowerTag.objects.create(account=account, tag_id=999, name="Deleted at WeChat")

    result = sync(account)

    assert result.tags == 2
    assert {(tag.tag_id, tag.name, tag.follower_count) for tag in FollowerTag.objects.filter(account=account)} == {
        (vip, "VIP", 60),
        (tea, "Tea lovers", 120),
    }
    assert not FollowerTag.objects.filter(pk=stale.pk).exists()
    assert Follower.objects.get(openid=openids[0]).tag_ids == sorted([vip, tea])
    assert Follower.objects.get(openid=openids[60]).tag_ids == [tea]
    assert sum(vip in tag_ids for tag_ids in Follower.objects.values_list("tag_ids", flat=True)) == 60


@pytest.mark.django_db
def test_followers_wechat_no_longer_lists_are_marked_unsubscribed(sandbox, account):
    openids = sandbox.add_followers(APPID, count=5)["openids"]
    sync(account)
    first_synced_at = Follower.objects.get(openid=openids[0]).synced_at
    # They leave, and the push that would tell us never arrives (the callback is unreachable).
    for openid in openids[:2]:
        sandbox.send_follower_event(appid=APPID, openid=openid, event="unsubscribe")

    result = sync(account)

    assert result.unsubscribed == 2
    assert subscribed_openids(account) == set(openids[2:])
    gone = Follower.objects.get(openid=openids[0])
    assert not gone.is_subscribed and gone.unsubscribed_at > first_synced_at
    assert gone.synced_at == first_synced_at  # not seen by the second run


@pytest.mark.django_db
def test_a_second_sync_changes_nothing(sandbox, account):
    vip = sandbox.create_tag(APPID, "VIP")
    sandbox.add_followers(APPID, count=250, tag_ids=[vip])
    sync(account)
    fields = ["openid", "nickname", "tag_ids", "is_subscribed", "subscribed_at", "unsubscribed_at"]
    before = list(Follower.objects.order_by("openid").values_list(*fields))

    result = sync(account)

    assert (result.followers, result.unsubscribed) == (250, 0)
    assert list(Follower.objects.order_by("openid").values_list(*fields)) == before
    runs = FollowerSyncRun.objects.filter(account=account)
    assert [(run.status, run.followers, run.unsubscribed, run.tags) for run in runs] == [("succeeded", 250, 0, 1)] * 2
    assert FollowerTag.objects.get(account=account).follower_count == 250


@pytest.mark.django_db
def test_syncs_after_changes_at_wechat_write_the_changes_mark_who_left_and_take_back_who_returned(sandbox, account):
    client = client_for_official_account(account)
    tea, vip = sandbox.create_tag(APPID, "Tea lovers"), sandbox.create_tag(APPID, "VIP")
    same, retagged, returning, leaving = sandbox.add_followers(APPID, count=4, tag_ids=[tea])["openids"]
    sync(account)
    client.tag.tag_user(vip, [retagged])
    # They leave, and the pushes that would tell us never arrive (the callback is unreachable).
    for openid in (returning, leaving):
        sandbox.send_follower_event(appid=APPID, openid=openid, event="unsubscribe")

    assert sync(account).unsubscribed == 2

    followers = {follower.openid: follower for follower in Follower.objects.filter(account=account)}
    assert (followers[same].tag_ids, followers[retagged].tag_ids) == ([tea], sorted([tea, vip]))
    assert subscribed_openids(account) == {same, retagged}
    left_at = followers[returning].unsubscribed_at
    sandbox.advance_clock(60)
    sandbox.send_follower_event(appid=APPID, openid=returning, event="subscribe")
    [newcomer] = sandbox.add_followers(APPID, count=1)["openids"]

    result = sync(account)

    assert (result.followers, result.unsubscribed) == (4, 0)
    assert subscribed_openids(account) == {same, retagged, returning, newcomer}
    back = Follower.objects.get(openid=returning)
    assert back.unsubscribed_at == left_at and back.subscribed_at > followers[returning].subscribed_at
    assert Follower.objects.get(openid=leaving).unsubscribed_at == followers[leaving].unsubscribed_at


@pytest.mark.django_db
def test_a_pages_batchget_calls_are_made_as_many_at_once_as_the_setting_allows(sandbox, account, settings):
    settings.FOLLOWER_SYNC_CONCURRENCY = 4
    sandbox.add_followers(APPID, count=800)  # one page, 8 batchget calls
    latency = 0.5  # every WeChat answer waits this long: a call under way is seen by the next one's arrival
    sandbox.set_latency(latency)
    try:
        result = sync(account)
    finally:
        sandbox.set_latency(0)

    assert result.followers == 800
    first_page, *later_pages = sandbox.received("/cgi-bin/user/get")
    batchgets = sandbox.received("/cgi-bin/user/info/batchget")
    # Once the first page is known: the next page's user/get and this page's 8 batchget calls, 4 at a time.
    arrivals = sorted(call["at"] for call in [*later_pages, *batchgets])
    assert len(arrivals) == 9 and all(at >= first_page["at"] + latency for at in arrivals)
    assert arrivals[3] - arrivals[0] < latency / 2, "four calls were not under way at once"
    assert arrivals[4] - arrivals[0] >= latency * 0.9, "a fifth call did not wait for one of the four to end"
    assert arrivals[7] - arrivals[4] < latency / 2 and arrivals[8] - arrivals[4] >= latency * 0.9


@pytest.mark.django_db
def test_one_concurrent_batchget_failing_past_its_retries_fails_the_run_and_cancels_the_rest(
    sandbox, account, settings
):
    settings.FOLLOWER_SYNC_CONCURRENCY = 2
    sandbox.add_followers(APPID, count=3_000)  # 30 batchget calls
    sandbox.add_fault("/cgi-bin/user/info/batchget", errcode=-1, times=100)  # WeChat busy for a while

    with pytest.raises(WeChatTransientError):
        sync(account)

    assert not Follower.objects.filter(account=account).exists()
    # The two under way (each tried 3 times), perhaps one more as the first gave up: not all 30 calls.
    assert len(sandbox.received("/cgi-bin/user/info/batchget")) <= 3 * (len(NO_WAIT) + 1)
    assert FollowerSyncRun.objects.filter(account=account).first().status == FollowerSyncRun.Status.FAILED


@pytest.mark.django_db
def test_a_busy_wechat_is_retried_and_the_sync_completes(sandbox, account):
    sandbox.add_followers(APPID, count=150)
    sandbox.add_fault("/cgi-bin/user/get", errcode=-1, times=2)
    sandbox.add_fault("/cgi-bin/user/info/batchget", errcode=-1)

    result = sync(account)

    assert result.followers == 150
    assert [call["errcode"] for call in sandbox.received("/cgi-bin/user/info/batchget")] == [-1, None, None]


@pytest.mark.django_db
def test_wechat_busy_past_every_retry_fails_the_run_and_marks_no_one(sandbox, account):
    openids = sandbox.add_followers(APPID, count=3)["openids"]
    sync(account)
    sandbox.add_fault("/cgi-bin/user/info/batchget", errcode=-1, times=len(NO_WAIT) + 1)

    with pytest.raises(WeChatTransientError):
        sync(account)

    assert subscribed_openids(account) == set(openids)
    failed = FollowerSyncRun.objects.filter(account=account).first()  # the newest
    assert failed.status == FollowerSyncRun.Status.FAILED and failed.finished_at is not None
    assert "-1" in failed.error or "busy" in failed.error.lower(), failed.error
    assert sync(account).followers == 3  # the lock was released
    assert FollowerSyncRun.objects.filter(account=account).first().status == FollowerSyncRun.Status.SUCCEEDED


@pytest.mark.django_db
@pytest.mark.parametrize("fails", [False, True], ids=["succeeds", "fails"])
def test_the_heap_is_left_out_of_garbage_collection_while_a_sync_runs_and_back_in_after(sandbox, account, fails):
    sandbox.add_followers(APPID, count=300)
    if fails:
        sandbox.add_fault("/cgi-bin/user/info/batchget", errcode=-1, times=100)
    frozen_meanwhile = []
    sandbox.set_latency(0.1)  # each call waits: the sync runs long enough to be looked at
    watching = threading.Event()

    def watch():
        while not watching.is_set():
            frozen_meanwhile.append(gc.get_freeze_count())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        if fails:
            with pytest.raises(WeChatTransientError):
                sync(account)
        else:
            assert sync(account).followers == 300
    finally:
        watching.set()
        watcher.join()
        sandbox.set_latency(0)

    assert max(frozen_meanwhile) > 0  # the objects from before the sync were frozen
    assert gc.get_freeze_count() == 0  # and collectable again after it, whatever its outcome


@pytest.mark.django_db
def test_a_sync_while_another_runs_for_the_account_is_skipped(sandbox, account):
    cache.set(f"articles:followers-sync:{account.pk}", "another run", timeout=60)

    assert sync(account).skipped
    assert sandbox.received("/cgi-bin/user/get") == []


# --- events -------------------------------------------------------------------------------------


def wait_for(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_subscribe_and_unsubscribe_from_the_sandbox_keep_the_follower_current(sandbox, account, live_server):
    sandbox.register_app(
        APPID, SECRET, "official_account", callback={"url": f"{live_server.url}/wechat/oa/{APPID}/", "token": TOKEN}
    )

    sandbox.send_follower_event(appid=APPID, openid="oNewFollower0000000000000001", event="subscribe")
    wait_for(lambda: Follower.objects.filter(openid="oNewFollower0000000000000001").exists())
    follower = Follower.objects.get(openid="oNewFollower0000000000000001")
    assert follower.is_subscribed and follower.account == account
    subscribed_at = follower.subscribed_at
    assert abs(subscribed_at.timestamp() - time.time()) < 60

    sandbox.advance_clock(30)
    sandbox.send_follower_event(appid=APPID, openid="oNewFollower0000000000000001", event="unsubscribe")
    wait_for(lambda: not Follower.objects.get(openid="oNewFollower0000000000000001").is_subscribed)

    follower.refresh_from_db()
    assert follower.unsubscribed_at - subscribed_at >= timedelta(seconds=30)
    assert follower.subscribed_at == subscribed_at
    assert [delivery["state"] for delivery in sandbox.outbox()] == ["delivered", "delivered"]


def push_event(client, *, openid: str, event: str, create_time: int):
    """A signed plain-mode push made by hand, for deliveries the sandbox cannot reorder on demand."""
    body = message_xml(
        {
            "ToUserName": original_id(APPID),
            "FromUserName": openid,
            "CreateTime": create_time,
            "MsgType": "event",
            "Event": event,
        }
    )
    timestamp, nonce = str(int(time.time())), "4242"
    query = {"timestamp": timestamp, "nonce": nonce, "signature": signature(TOKEN, timestamp, nonce)}
    response = client.post(f"/wechat/oa/{APPID}/?{urlencode(query)}", data=body, content_type="text/xml")
    assert response.content == b"success"


@pytest.mark.django_db
def test_an_older_event_delivered_late_does_not_undo_a_newer_one(client, account):
    now = int(time.time())

    push_event(client, openid="oLate", event="unsubscribe", create_time=now)
    push_event(client, openid="oLate", event="subscribe", create_time=now - 60)  # happened first, arrived last

    follower = Follower.objects.get(openid="oLate")
    assert not follower.is_subscribed
    assert follower.unsubscribed_at == datetime.fromtimestamp(now, UTC)
    assert follower.subscribed_at is None


@pytest.mark.django_db
def test_a_retried_event_changes_nothing_even_when_the_repeat_is_not_recognised(client, account):
    now = int(time.time())
    push_event(client, openid="oRetried", event="subscribe", create_time=now - 60)
    push_event(client, openid="oRetried", event="unsubscribe", create_time=now)

    cache.clear()  # e.g. the retry reached another web server, or the cache was restarted
    push_event(client, openid="oRetried", event="subscribe", create_time=now - 60)

    follower = Follower.objects.get(openid="oRetried")
    assert not follower.is_subscribed
    assert follower.subscribed_at == datetime.fromtimestamp(now - 60, UTC)


@pytest.mark.django_db
def test_resubscribing_after_leaving_subscribes_again(account):
    start = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    follower_subscription_record(account=account, openid="oBack", subscribed=True, at=start)
    follower_subscription_record(account=account, openid="oBack", subscribed=False, at=start + timedelta(days=1))
    follower = follower_subscription_record(
        account=account, openid="oBack", subscribed=True, at=start + timedelta(days=2)
    )

    assert follower.is_subscribed
    assert (follower.subscribed_at, follower.unsubscribed_at) == (start + timedelta(days=2), start + timedelta(days=1))


@pytest.mark.django_db
def test_other_events_and_malformed_ones_leave_followers_alone(client, account):
    push_event(client, openid="oClicker", event="CLICK", create_time=int(time.time()))
    push_event(client, openid="o" * 65, event="subscribe", create_time=int(time.time()))

    assert not Follower.objects.exists()


@pytest.mark.django_db
def test_an_unsubscribe_during_a_sync_wins_over_the_page_read_before_it(account):
    subscribe_time = int(datetime(2026, 5, 1, 8, 0, tzinfo=UTC).timestamp())
    started = datetime.now(UTC)
    page_read_before_they_left = [
        FollowerInfo(openid="oLeaving", is_subscribed=True, nickname="", tag_ids=(), subscribe_time=subscribe_time),
        FollowerInfo(openid="oStaying", is_subscribed=True, nickname="", tag_ids=(), subscribe_time=subscribe_time),
    ]
    follower_subscription_record(
        account=account, openid="oLeaving", subscribed=False, at=started + timedelta(seconds=1)
    )
    with FollowerSyncWriter(account_id=account.pk, synced_at=started) as writer:
        writer.page_write(page_read_before_they_left)

        assert writer.unseen_unsubscribe() == 0

    assert subscribed_openids(account) == {"oStaying"}
    assert Follower.objects.get(openid="oLeaving").unsubscribed_at == started + timedelta(seconds=1)


@pytest.mark.django_db
def test_a_subscribe_during_a_sync_is_not_marked_unsubscribed_by_it(account):
    started = datetime.now(UTC)
    follower_subscription_record(account=account, openid="oJoined", subscribed=True, at=started + timedelta(seconds=1))

    with FollowerSyncWriter(account_id=account.pk, synced_at=started) as writer:
        assert writer.unseen_unsubscribe() == 0

    assert subscribed_openids(account) == {"oJoined"}


# --- tasks --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_sync_runs_daily_for_every_account_on_the_followers_queue():
    task = PeriodicTask.objects.get(task="articles.tasks.sync_followers_of_every_account")

    assert task.enabled and task.queue == "followers"
    assert (task.crontab.hour, task.crontab.minute, str(task.crontab.timezone)) == ("4", "0", "Asia/Shanghai")
    for name in (sync_account_followers.name, sync_followers_of_every_account.name):
        assert celery_app.amqp.router.route({}, name)["queue"].name == "followers"


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_syncs_an_accounts_followers(celery_worker, sandbox, account):
    sandbox.add_followers(APPID, count=300)

    sync_account_followers.apply_async(args=[account.pk], queue=settings.CELERY_TASK_DEFAULT_QUEUE)

    wait_for(lambda: Follower.objects.filter(account=account, is_subscribed=True).count() == 300, timeout=30)
    assert Follower.objects.exclude(synced_at=None).count() == 300
