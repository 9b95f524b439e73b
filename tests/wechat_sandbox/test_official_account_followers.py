"""The sandbox's follower tags and (un)subscriptions, over real HTTP.

公众号文档 "用户管理 / 用户标签管理": tags/create (45157 a name already used, 45158 a name over
30 bytes, 45056 more than 100 tags), tags/members/batchtagging and batchuntagging (at most
50 openids: 40032; 45159 an unknown tag; 40003 not a follower; 45059 a follower over 20
tags). "获取用户列表" / "批量获取用户基本信息" and "接收事件推送 / 关注/取消关注事件": who
unsubscribes leaves user/get, and batchget answers subscribe 0 for them.
"""

import json
import time

import pytest
import requests

from tests.wechat_sandbox.calls import TIMEOUT, assert_wechat_error, fetch_token
from wechat_sandbox.official_account_followers import Followers

APPID = "wx00000000000000f4"
SECRET = "sandbox-followers-secret"
# Nothing listens here: the pushes an event causes wait for retries, and the follower state is what is tested.
UNREACHABLE_CALLBACK = {"url": "http://127.0.0.1:9/wechat/oa/nowhere/", "token": "followersToken42"}


class Account:
    def __init__(self, url: str):
        self.url = url
        self.token = fetch_token(url, appid=APPID, secret=SECRET)["access_token"]

    def post(self, path: str, body: dict) -> dict:
        return requests.post(self.url + path, params={"access_token": self.token}, json=body, timeout=TIMEOUT).json()

    def get(self, path: str, **params) -> dict:
        params = {"access_token": self.token, **params}
        return requests.get(self.url + path, params=params, timeout=TIMEOUT).json()

    def create_tag(self, name: str) -> dict:
        return self.post("cgi-bin/tags/create", {"tag": {"name": name}})

    def tag(self, tag_id: int, openids: list[str], *, remove: bool = False) -> dict:
        path = "cgi-bin/tags/members/batchuntagging" if remove else "cgi-bin/tags/members/batchtagging"
        return self.post(path, {"openid_list": openids, "tagid": tag_id})

    def tags(self) -> dict[int, tuple[str, int]]:
        return {tag["id"]: (tag["name"], tag["count"]) for tag in self.get("cgi-bin/tags/get")["tags"]}

    def info(self, openids: list[str]) -> list[dict]:
        users = [{"openid": openid} for openid in openids]
        return self.post("cgi-bin/user/info/batchget", {"user_list": users})["user_info_list"]


@pytest.fixture
def account(sandbox, sandbox_server):
    sandbox.register_app(APPID, SECRET, "official_account", callback=UNREACHABLE_CALLBACK)
    yield Account(sandbox_server.url)
    sandbox.remove_app(APPID)


def test_tags_created_through_wechat_are_listed_with_their_counts(account):
    created = account.create_tag("星标用户")

    assert set(created) == {"tag"} and created["tag"]["name"] == "星标用户"
    assert account.tags() == {created["tag"]["id"]: ("星标用户", 0)}


def test_tag_creation_refusals(account):
    account.create_tag("VIP")

    assert_wechat_error(account.create_tag("VIP"), 45157, "invalid tag name")
    assert_wechat_error(account.create_tag("标" * 11), 45158, "tag name too long")  # 33 bytes
    assert "tag" in account.create_tag("标" * 10)  # 30 bytes
    for number in range(98):
        account.create_tag(f"tag {number}")
    assert_wechat_error(account.create_tag("one too many"), 45056, "too many tags now, no need to add new")


def test_batchtagging_tags_followers_one_by_one_among_generated_ones(sandbox, account):
    vip = account.create_tag("VIP")["tag"]["id"]
    tea = account.create_tag("Tea")["tag"]["id"]
    openids = sandbox.add_followers(APPID, count=200, tag_ids=[tea])["openids"]
    named = sandbox.add_followers(APPID, openids=["oNamedFollower00000000000001"])["openids"]

    assert account.tag(vip, openids[:50]) == {"errcode": 0, "errmsg": "ok"}
    assert account.tag(vip, [openids[50], *named])["errcode"] == 0
    assert account.tag(tea, openids[:10], remove=True)["errcode"] == 0

    assert account.tags() == {vip: ("VIP", 52), tea: ("Tea", 190)}
    info = account.info([openids[0], openids[50], openids[51], named[0]])
    assert [user["tagid_list"] for user in info] == [[vip], [vip, tea] if vip < tea else [tea, vip], [tea], [vip]]


def test_batchtagging_refusals_change_nothing(sandbox, account):
    vip = account.create_tag("VIP")["tag"]["id"]
    openids = sandbox.add_followers(APPID, count=60)["openids"]

    assert_wechat_error(account.tag(vip, openids[:51]), 40032, "invalid openid list size")
    assert_wechat_error(account.tag(999, openids[:1]), 45159, "invalid tag id")
    assert_wechat_error(account.tag(vip, [openids[0], "oNotAFollower"]), 40003, "invalid openid")
    assert account.tags() == {vip: ("VIP", 0)}


def test_a_follower_has_at_most_20_tags(sandbox, account):
    [openid] = sandbox.add_followers(APPID, count=1)["openids"]
    tag_ids = [account.create_tag(f"tag {number}")["tag"]["id"] for number in range(21)]
    for tag_id in tag_ids[:20]:
        assert account.tag(tag_id, [openid])["errcode"] == 0

    assert_wechat_error(account.tag(tag_ids[20], [openid]), 45059, "tag number of this fan out of limit")
    assert len(account.info([openid])[0]["tagid_list"]) == 20


def test_who_unsubscribes_leaves_user_get_and_batchget_and_may_come_back(sandbox, account):
    vip = account.create_tag("VIP")["tag"]["id"]
    openids = sandbox.add_followers(APPID, count=5, tag_ids=[vip])["openids"]

    sandbox.send_follower_event(appid=APPID, openid=openids[1], event="unsubscribe")
    page = account.get("cgi-bin/user/get")
    after_the_leaver = account.get("cgi-bin/user/get", next_openid=openids[1])

    assert page["total"] == 4 and page["data"]["openid"] == [openids[0], *openids[2:]]
    assert after_the_leaver["data"]["openid"] == openids[2:]  # a cursor on them still pages on
    assert account.info([openids[1]]) == [{"subscribe": 0, "openid": openids[1]}]
    assert account.tags() == {vip: ("VIP", 4)}

    before = time.time()
    sandbox.advance_clock(60)
    sandbox.send_follower_event(appid=APPID, openid=openids[1], event="subscribe")
    [back] = account.info([openids[1]])

    assert back["subscribe"] == 1 and back["tagid_list"] == [vip]  # WeChat keeps their tags
    assert back["subscribe_time"] >= int(before) + 60  # whole seconds, on the clock moved a minute on
    assert account.get("cgi-bin/user/get")["total"] == 5


def test_a_new_person_subscribing_is_listed_after_everyone_else(sandbox, account):
    openids = sandbox.add_followers(APPID, count=2)["openids"]

    sandbox.send_follower_event(appid=APPID, openid="oNewcomer000000000000000001", event="subscribe")

    assert account.get("cgi-bin/user/get")["data"]["openid"] == [*openids, "oNewcomer000000000000000001"]
    assert sandbox.followers(APPID)["total"] == 3


def test_a_snapshot_keeps_tags_given_one_by_one_and_who_left(sandbox, account):
    vip = account.create_tag("VIP")["tag"]["id"]
    openids = sandbox.add_followers(APPID, count=3)["openids"]
    account.tag(vip, [openids[0]])
    sandbox.send_follower_event(appid=APPID, openid=openids[2], event="unsubscribe")
    snapshot = sandbox.state()

    sandbox.add_followers(APPID, count=10)
    sandbox.restore_state(snapshot)

    assert account.get("cgi-bin/user/get")["data"]["openid"] == openids[:2]
    assert account.info([openids[0]])[0]["tagid_list"] == [vip]


def test_200000_followers_are_added_in_one_quick_call(sandbox, account):
    started = time.monotonic()

    added = sandbox.add_followers(APPID, count=200_000)

    assert time.monotonic() - started < 2
    assert (added["added"], added["total"]) == (200_000, 200_000)
    last_page = account.get("cgi-bin/user/get", next_openid=added["openids"][0][:-6] + "189999")
    assert last_page["count"] == 10_000 and last_page["data"]["openid"][-1] == added["openids"][-1]


def test_batchget_answers_every_kind_of_follower_as_info_describes_them(account, sandbox, sandbox_server):
    """Generated followers are answered from their run's JSON (infos_json): the same bytes as each one's info()."""
    tag_id = account.create_tag("tea lovers")["tag"]["id"]
    tagged = sandbox.add_followers(APPID, count=4, tag_ids=[tag_id])["openids"]
    plain = sandbox.add_followers(APPID, count=3)["openids"]
    named = sandbox.add_followers(APPID, openids=["oNamedFollower00000000000001"])["openids"]
    account.tag(tag_id, [plain[0]])  # retagged one by one
    sandbox.send_follower_event(appid=APPID, openid=tagged[1], event="unsubscribe")
    for event in ("unsubscribe", "subscribe"):  # back, with a subscribe_time of their own
        sandbox.send_follower_event(appid=APPID, openid=tagged[2], event=event)
    asked = [*tagged, *plain, *named, "oStranger000000000000000000"]

    answer = requests.post(
        sandbox_server.url + "cgi-bin/user/info/batchget",
        params={"access_token": account.token},
        json={"user_list": [{"openid": openid} for openid in asked]},
        timeout=TIMEOUT,
    )

    with sandbox_server.sandbox.lock:
        followers = sandbox_server.sandbox.part(Followers).of(APPID)
        expected = json.dumps({"user_info_list": [followers.info(openid) for openid in asked]}, ensure_ascii=False)
    assert answer.text == expected
    infos = {info["openid"]: info for info in answer.json()["user_info_list"]}
    assert (infos[tagged[0]]["tagid_list"], infos[plain[0]]["tagid_list"], infos[plain[1]]["tagid_list"]) == (
        [tag_id],
        [tag_id],
        [],
    )
    assert infos[tagged[1]] == {"subscribe": 0, "openid": tagged[1]}
    back = infos[tagged[2]]
    assert back["subscribe"] == 1 and back["subscribe_time"] >= infos[tagged[0]]["subscribe_time"]
