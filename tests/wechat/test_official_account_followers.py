"""Followers and tags read from the sandbox over HTTP (用户管理), and subscribe/unsubscribe events read."""

from datetime import UTC, datetime

import pytest

from wechat.official_account_followers import (
    FollowerSubscriptionChange,
    OpenidPage,
    TagInfo,
    follower_infos,
    follower_openids_page,
    follower_subscription_change_from_message,
    follower_tags,
)


def test_openids_are_paged_after_the_last_one_and_an_empty_page_ends_them(sandbox, registered_account, account_client):
    openids = sandbox.add_followers(registered_account.appid, count=3)["openids"]

    first = follower_openids_page(account_client)
    after_last = follower_openids_page(account_client, after=first.openids[-1])

    assert first == OpenidPage(total=3, openids=openids, next_openid=openids[-1])
    assert after_last.openids == []
    assert [call["query"].get("next_openid") for call in sandbox.received("/cgi-bin/user/get")] == [None, openids[-1]]


def test_infos_tell_subscription_tags_and_when_they_followed(sandbox, registered_account, account_client):
    tag_id = sandbox.create_tag(registered_account.appid, "tea lovers")
    [openid] = sandbox.add_followers(registered_account.appid, count=1, tag_ids=[tag_id])["openids"]

    [follower, stranger] = follower_infos(account_client, openids=[openid, "o" + "x" * 27])

    assert (follower.openid, follower.is_subscribed, follower.tag_ids) == (openid, True, (tag_id,))
    assert follower.nickname == ""  # WeChat no longer gives nicknames
    assert follower.subscribed_at is not None and follower.subscribed_at.tzinfo is UTC
    assert (stranger.is_subscribed, stranger.subscribed_at) == (False, None)


@pytest.mark.parametrize("count", [0, 101])
def test_infos_take_1_to_100_openids(account_client, count):
    with pytest.raises(ValueError, match="1 to 100"):
        follower_infos(account_client, openids=[f"o{number:027d}" for number in range(count)])


def test_tags_with_their_follower_counts(sandbox, registered_account, account_client):
    tag_id = sandbox.create_tag(registered_account.appid, "tea lovers")
    sandbox.add_followers(registered_account.appid, count=2, tag_ids=[tag_id])

    assert TagInfo(tag_id=tag_id, name="tea lovers", follower_count=2) in follower_tags(account_client)


@pytest.mark.parametrize(("event", "subscribed"), [("subscribe", True), ("unsubscribe", False), ("Subscribe", True)])
def test_a_subscription_event_says_who_and_when(event, subscribed):
    message = {"FromUserName": "oFollower", "CreateTime": "1763881200", "MsgType": "event", "Event": event}

    change = follower_subscription_change_from_message(message)

    assert change == FollowerSubscriptionChange(
        openid="oFollower", subscribed=subscribed, at=datetime(2025, 11, 23, 7, 0, tzinfo=UTC)
    )


@pytest.mark.parametrize(("openid", "create_time"), [("", "1763881200"), ("oFollower", ""), ("oFollower", "soon")])
def test_a_subscription_event_without_who_or_when_is_unusable(openid, create_time):
    message = {"FromUserName": openid, "CreateTime": create_time, "MsgType": "event", "Event": "subscribe"}

    with pytest.raises(ValueError, match="FromUserName/CreateTime"):
        follower_subscription_change_from_message(message)
