"""An Official Account's followers and tags at WeChat, and the events that say who follows.

公众号文档 "用户管理": 获取用户列表 (user/get: up to 10,000 openids a page; the next page
starts after `next_openid`, and a page with count 0 ends the list), 批量获取用户基本信息
(user/info/batchget: at most 100 openids a call; since 2021-12-27 WeChat no longer
gives nickname or avatar, so nickname is usually absent) and 用户标签管理 (tags/get).
"接收事件推送 / 关注/取消关注事件": subscribe and unsubscribe, from the follower's openid
(FromUserName) at CreateTime. Errors arrive as wechat.errors' transient/permanent split.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from wechat.clients import SharedTokenClient

OPENIDS_PER_PAGE = 10_000
INFO_BATCH_SIZE = 100
SUBSCRIPTION_EVENTS = {"subscribe": True, "unsubscribe": False}


@dataclass(frozen=True)
class OpenidPage:
    total: int
    openids: list[str]
    next_openid: str


class FollowerInfo(NamedTuple):
    """One follower as batchget tells of them; a tuple, as a sync builds 200,000 of them.

    Its tag ids are a tuple too: a tuple holding only strings, numbers and such tuples is dropped
    from the garbage collector's watch at its first collection, so a page of these is never walked
    again by the full collections a sync's allocations trigger.
    """

    openid: str
    is_subscribed: bool
    nickname: str
    tag_ids: tuple[int, ...]
    subscribe_time: int | None  # seconds since the epoch, as WeChat gives it

    @property
    def subscribed_at(self) -> datetime | None:
        return None if self.subscribe_time is None else datetime.fromtimestamp(self.subscribe_time, tz=UTC)


@dataclass(frozen=True)
class TagInfo:
    tag_id: int
    name: str
    follower_count: int


@dataclass(frozen=True)
class FollowerSubscriptionChange:
    """A subscribe (`subscribed`) or unsubscribe event: who, and when it happened."""

    openid: str
    subscribed: bool
    at: datetime


def follower_openids_page(client: SharedTokenClient, *, after: str = "") -> OpenidPage:
    """One page of followers' openids, those after `after` ("" from the start).

    WeChat sends next_openid on the last page too: only a page without openids ends the list.
    """
    answer = client.user.get_followers(after or None)
    openids = (answer.get("data") or {}).get("openid") or []
    return OpenidPage(
        total=int(answer.get("total", 0)), openids=list(openids), next_openid=answer.get("next_openid") or ""
    )


def follower_infos(client: SharedTokenClient, *, openids: list[str]) -> list[FollowerInfo]:
    """What WeChat tells of up to 100 openids, in their order."""
    if not 1 <= len(openids) <= INFO_BATCH_SIZE:
        raise ValueError(f"user/info/batchget takes 1 to {INFO_BATCH_SIZE} openids, not {len(openids)}")
    return [_follower_info(item) for item in client.user.get_batch(openids)]


def follower_tags(client: SharedTokenClient) -> list[TagInfo]:
    return [
        TagInfo(tag_id=int(tag["id"]), name=str(tag["name"]), follower_count=int(tag.get("count", 0)))
        for tag in client.tag.get()
    ]


def follower_subscription_change_from_message(message: dict) -> FollowerSubscriptionChange:
    """A subscribe or unsubscribe event; ValueError when it lacks a usable FromUserName or CreateTime."""
    openid, create_time = str(message.get("FromUserName", "")), str(message.get("CreateTime", ""))
    subscribed = SUBSCRIPTION_EVENTS.get(str(message.get("Event", "")).lower())
    if subscribed is None:
        raise ValueError(f"a {message.get('Event')} event is not a subscription change")
    if not openid or not create_time.isdigit():
        raise ValueError(f"a {message.get('Event')} event without a usable FromUserName/CreateTime")
    return FollowerSubscriptionChange(
        openid=openid,
        subscribed=subscribed,
        at=datetime.fromtimestamp(int(create_time), tz=UTC),
    )


def _follower_info(item: dict) -> FollowerInfo:
    subscribe_time, tag_ids = item.get("subscribe_time"), item.get("tagid_list")
    return FollowerInfo(
        str(item["openid"]),
        int(item.get("subscribe", 0)) == 1,
        str(item.get("nickname") or ""),
        tuple(map(int, tag_ids)) if tag_ids else (),
        int(subscribe_time) if subscribe_time else None,
    )
