"""An Official Account's followers and tags: set up by the control API, read with user/get, batchget and tags/get.

Follows 公众号文档 "用户管理 / 获取用户列表" (10,000 openids a page, paged by next_openid),
"批量获取用户基本信息" (100 a call) and "用户标签管理" (tags/get, tags/create with 45157
duplicate name, 45158 name over 30 bytes, 45056 over 100 tags; tags/members/batchtagging
and batchuntagging with at most 50 openids (40032), 45159 unknown tag, 45059 a follower
over 20 tags, 40003 an openid that is not a follower). A 200,000-follower audience must
cost next to nothing: followers added by count are not stored one by one but as runs of
generated openids ("o" + 9 characters of the account + an 18-digit index: 28 characters,
as WeChat's openids are), each run with its tags; only followers added by openid, those
tagged one by one, and those who unsubscribed are kept individually.

A subscribe or unsubscribe event (POST /sandbox/official-account/events) changes who
follows, as the follower's action does at WeChat: an unsubscribed follower leaves user/get
and batchget answers subscribe 0 for them ("接收事件推送 / 关注/取消关注事件").
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field

from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, WeChatErrcode
from wechat_sandbox.protocols import json_response
from wechat_sandbox.routes import Route, json_body_of
from wechat_sandbox.state import Sandbox, snapshot_part
from wechat_sandbox.tokens import authenticated_app
from wechat_sandbox.wechat_apps import OFFICIAL_ACCOUNT

MAX_FOLLOWERS_PER_CALL = 1_000_000
MAX_OPENIDS_PER_CALL = 10_000
# The generated openids a POST lists back; past this it gives the first and last.
LISTED_OPENIDS = 10_000
# 用户标签管理: ids 0, 1 and 2 are WeChat's own; an account's tags start above them.
FIRST_TAG_ID = 100
MAX_TAGS = 100  # 用户标签管理: "一个公众号，最多可以创建100个标签"
MAX_TAGS_PER_FOLLOWER = 20  # 用户标签管理: 45059 "有粉丝身上的标签数已经超过限制，即超过20个"
TAGGING_MAX_OPENIDS = 50  # 用户标签管理, 批量为用户打标签: "每次传入的openid列表个数不能超过50个"
TAG_NAME_MAX_BYTES = 30  # 用户标签管理: "标签名（30个字符以内）" (45158 past 30 bytes)
OPENID_SHAPE = re.compile(r"[A-Za-z0-9_-]{6,64}")
INDEX_DIGITS = 18
USER_GET_PAGE = 10_000  # 获取用户列表: "一次拉取调用最多拉取10000个关注者的OpenID"
BATCHGET_MAX = 100  # 批量获取用户基本信息: "最多支持一次拉取100条"


@functools.lru_cache(maxsize=1024)  # asked twice per openid a batchget names: 200 hashes a call otherwise
def _prefix(appid: str) -> str:
    return "o" + hashlib.sha256(appid.encode()).hexdigest()[:9]


# Where a run's batchget answer takes each follower's openid (infos_json); never an openid (no "@").
_OPENID_SLOT = "@openid@"


def _run_start(run: Run) -> int:
    return run.start


@dataclass
class Run:
    """Generated followers start..start+count-1, all with the same tags."""

    start: int
    count: int
    tag_ids: list[int]
    added_at: float


@dataclass
class AccountFollowers:
    appid: str
    runs: list[Run] = field(default_factory=list)
    generated: int = 0
    by_openid: dict[str, list[int]] = field(default_factory=dict)  # openid -> tag ids
    # When followers added by openid, or who subscribed through an event, last subscribed.
    subscribed_at: dict[str, float] = field(default_factory=dict)
    tags: dict[int, str] = field(default_factory=dict)
    # Generated followers whose tags changed one by one (batchtagging), openid -> tag ids.
    retagged: dict[str, list[int]] = field(default_factory=dict)
    # Followers who unsubscribed; they keep their place in user/get's order, so a cursor on one still pages on.
    unsubscribed: set[str] = field(default_factory=set)
    # When each of them left, for the statistics' cancel_user (getusersummary).
    unsubscribed_at: dict[str, float] = field(default_factory=dict)

    def openid(self, index: int) -> str:
        return f"{_prefix(self.appid)}{index:0{INDEX_DIGITS}d}"

    def _generated_index(self, openid: str) -> int | None:
        prefix = _prefix(self.appid)
        digits = openid[len(prefix) :]
        if not openid.startswith(prefix) or len(digits) != INDEX_DIGITS or not digits.isdigit():
            return None
        index = int(digits)
        return index if index < self.generated else None

    def _run_of(self, index: int) -> Run:
        return self.runs[bisect.bisect_right(self.runs, index, key=_run_start) - 1]

    def tags_of(self, openid: str) -> list[int] | None:
        """The follower's tag ids, or None if `openid` does not follow the account."""
        if openid in self.unsubscribed:
            return None
        return self._tags_kept(openid)

    def _tags_kept(self, openid: str) -> list[int] | None:
        """The tags of someone who follows or once followed (WeChat keeps them); None for a stranger."""
        if openid in self.by_openid:
            return self.by_openid[openid]
        if openid in self.retagged:
            return self.retagged[openid]
        index = self._generated_index(openid)
        return None if index is None else self._run_of(index).tag_ids

    def set_tags(self, openid: str, tag_ids: list[int]) -> None:
        """Call for a follower (tags_of not None)."""
        if openid in self.by_openid:
            self.by_openid[openid] = sorted(tag_ids)
        else:
            self.retagged[openid] = sorted(tag_ids)

    def subscribe(self, openid: str, now: float) -> None:
        """The person follows (again): a stranger is added after everyone else; subscribe_time becomes now."""
        self.unsubscribed.discard(openid)
        if self._tags_kept(openid) is None:
            self.by_openid[openid] = []
        self.subscribed_at[openid] = now

    def unsubscribe(self, openid: str, now: float) -> None:
        if self._tags_kept(openid) is not None:
            self.unsubscribed.add(openid)
            self.unsubscribed_at[openid] = now

    def info(self, openid: str) -> dict:
        """批量获取用户基本信息: what WeChat tells of one openid (subscribe 0 for someone who does not follow)."""
        if openid in self.unsubscribed:
            return {"subscribe": 0, "openid": openid}
        subscribed_at = self.subscribed_at.get(openid)
        if openid in self.by_openid:
            tag_ids = self.by_openid[openid]
        elif (index := self._generated_index(openid)) is not None:
            # Found once: tags_of() and the run's added_at would each look the openid up again.
            run = self._run_of(index)
            tag_ids = self.retagged.get(openid, run.tag_ids)
            if subscribed_at is None:
                subscribed_at = run.added_at
        else:
            return {"subscribe": 0, "openid": openid}
        return {
            "subscribe": 1,
            "openid": openid,
            "language": "zh_CN",
            "subscribe_time": int(subscribed_at),
            "remark": "",
            "groupid": 0,
            "tagid_list": tag_ids,
            "subscribe_scene": "ADD_SCENE_OTHERS",
            "qr_scene": 0,
            "qr_scene_str": "",
        }

    def infos_json(self, openids: list[str]) -> list[str]:
        """json.dumps(self.info(openid), ensure_ascii=False) of each, without a dict per follower.

        A generated follower whose tags and subscribe time are still their run's gets the run's
        answer with their openid in it (generated openids are letters and digits: nothing to
        escape); anyone else goes through info(). Same bytes, a tenth of the time: a 200,000-follower
        sync asks 2,000 batchget calls of 100.
        """
        answers, templates = [], {}
        for openid in openids:
            index = self._generated_index(openid)
            if (
                index is None
                or openid in self.unsubscribed
                or openid in self.by_openid
                or openid in self.retagged
                or openid in self.subscribed_at
            ):
                answers.append(json.dumps(self.info(openid), ensure_ascii=False))
                continue
            run = self._run_of(index)
            if run.start not in templates:
                templates[run.start] = json.dumps(
                    {**self.info(openid), "openid": _OPENID_SLOT}, ensure_ascii=False
                ).split(f'"{_OPENID_SLOT}"')
            before, after = templates[run.start]
            answers.append(f'{before}"{openid}"{after}')
        return answers

    def page(self, after: str, limit: int) -> list[str]:
        """Followers in a fixed order (generated first, then added by openid), those after `after` ("" from the start).

        40003 when `after` does not follow the account (获取用户列表: next_openid must be one it gave).
        """
        if not after:
            start = 0
        elif (index := self._generated_index(after)) is not None and after not in self.by_openid:
            start = index + 1
        elif after in self.by_openid:
            start = self.generated + list(self.by_openid).index(after) + 1
        else:
            raise WeChatErrcode(40003)
        openids: list[str] = []
        prefix = _prefix(self.appid)
        # Generated openids written as openid() does, in blocks, not one call each (a page is 10,000); a block
        # short of those who left is followed by another.
        while len(openids) < limit and start < self.generated:
            end = min(self.generated, start + limit - len(openids))
            block = [f"{prefix}{index:0{INDEX_DIGITS}d}" for index in range(start, end)]
            openids += [openid for openid in block if openid not in self.unsubscribed] if self.unsubscribed else block
            start = end
        named = itertools.islice(self.by_openid, max(0, start - self.generated), None)
        openids += itertools.islice(
            (openid for openid in named if openid not in self.unsubscribed), limit - len(openids)
        )
        return openids

    def generate(self, *, count: int, tag_ids: list[int], at: float) -> None:
        """`count` new followers with generated openids, stored as one run (large audiences cost nothing)."""
        self.runs.append(Run(start=self.generated, count=count, tag_ids=tag_ids, added_at=at))
        self.generated += count

    def count(self, tag_id: int | None = None) -> int:
        """How many follow the account (with `tag_id`, how many have that tag)."""
        if tag_id is None:
            return self.generated + len(self.by_openid) - len(self.unsubscribed)
        generated = sum(run.count for run in self.runs if tag_id in run.tag_ids)
        # A retagged generated follower counts by its own tags instead of its run's.
        for openid, tag_ids in self.retagged.items():
            generated += (tag_id in tag_ids) - (tag_id in self._run_of(self._generated_index(openid)).tag_ids)
        named = sum(1 for tag_ids in self.by_openid.values() if tag_id in tag_ids)
        gone = sum(1 for openid in self.unsubscribed if tag_id in (self._tags_kept(openid) or []))
        return generated + named - gone

    def to_snapshot(self) -> dict:
        return {
            "runs": [[run.start, run.count, run.tag_ids, run.added_at] for run in self.runs],
            "generated": self.generated,
            "by_openid": self.by_openid,
            "subscribed_at": self.subscribed_at,
            "tags": {str(tag_id): name for tag_id, name in self.tags.items()},
            "retagged": self.retagged,
            "unsubscribed": sorted(self.unsubscribed),
            "unsubscribed_at": self.unsubscribed_at,
        }

    @classmethod
    def from_snapshot(cls, appid: str, data: dict) -> AccountFollowers:
        return cls(
            appid=appid,
            runs=[
                Run(start=int(start), count=int(count), tag_ids=[int(t) for t in tags], added_at=float(at))
                for start, count, tags, at in data["runs"]
            ],
            generated=int(data["generated"]),
            by_openid={str(openid): [int(t) for t in tags] for openid, tags in data["by_openid"].items()},
            subscribed_at={str(openid): float(at) for openid, at in data["subscribed_at"].items()},
            tags={int(tag_id): str(name) for tag_id, name in data["tags"].items()},
            retagged={str(openid): [int(t) for t in tags] for openid, tags in data.get("retagged", {}).items()},
            unsubscribed={str(openid) for openid in data.get("unsubscribed", [])},
            unsubscribed_at={str(openid): float(at) for openid, at in data.get("unsubscribed_at", {}).items()},
        )


@snapshot_part("official_account_followers")
class Followers:
    """Every Official Account's followers and tags, by appid; use under the lock."""

    def __init__(self) -> None:
        self.accounts: dict[str, AccountFollowers] = {}

    def of(self, appid: str) -> AccountFollowers:
        if appid not in self.accounts:
            self.accounts[appid] = AccountFollowers(appid=appid)
        return self.accounts[appid]

    def forget_app(self, appid: str) -> None:
        self.accounts.pop(appid, None)

    def to_snapshot(self) -> dict:
        return {appid: account.to_snapshot() for appid, account in self.accounts.items()}

    @classmethod
    def from_snapshot(cls, data: dict) -> Followers:
        followers = cls()
        followers.accounts = {
            str(appid): AccountFollowers.from_snapshot(str(appid), item) for appid, item in data.items()
        }
        return followers


def _official_account(sandbox: Sandbox, appid: str | None) -> str:
    app = sandbox.registered_app(appid or "")
    if app.kind != "official_account":
        raise BadControlInput(f"{app.appid} is a {app.kind}; followers and tags belong to Official Accounts")
    return app.appid


def add_followers(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid", "count"? | "openids"?, "tag_ids"?}: new followers of an Official Account (201).

    count: that many followers with generated openids (up to 1,000,000 a call, stored as
    one run, so large audiences cost nothing); openids: these (up to 10,000 a call; a
    follower already there gets the tags added). tag_ids: tags (from POST
    /sandbox/official-account/tags) they all get. Answers {"added", "total", "openids"}
    (generated ones listed up to 10,000; past that the first and last).
    """
    body = ControlInput(request, allowed={"appid", "count", "openids", "tag_ids"})
    appid = body.text("appid", required=True)
    count = body.integer("count", minimum=1, maximum=MAX_FOLLOWERS_PER_CALL)
    openids = body.raw("openids")
    tag_ids = body.raw("tag_ids") or []
    if (count is None) == (openids is None):
        raise BadControlInput("give either count or openids")
    if openids is not None and (
        not isinstance(openids, list)
        or not 1 <= len(openids) <= MAX_OPENIDS_PER_CALL
        or not all(isinstance(openid, str) and OPENID_SHAPE.fullmatch(openid) for openid in openids)
    ):
        raise BadControlInput(
            f"openids must be a list of 1 to {MAX_OPENIDS_PER_CALL} openids (6-64 letters, digits, _ or -)"
        )
    if not isinstance(tag_ids, list) or not all(isinstance(t, int) and not isinstance(t, bool) for t in tag_ids):
        raise BadControlInput("tag_ids must be a list of tag ids")
    with sandbox.lock:
        account = sandbox.part(Followers).of(_official_account(sandbox, appid))
        unknown = sorted(set(tag_ids) - set(account.tags))
        if unknown:
            raise BadControlInput(f"no tag {unknown[0]} on {appid}; create it with POST /sandbox/official-account/tags")
        tags = sorted(set(tag_ids))
        if count is not None:
            start = account.generated
            account.generate(count=count, tag_ids=tags, at=sandbox.now())
            shown = range(start, start + count) if count <= LISTED_OPENIDS else (start, start + count - 1)
            listed = [account.openid(index) for index in shown]
        else:
            for openid in openids:
                account.unsubscribed.discard(openid)
                account.by_openid[openid] = sorted(set(account.by_openid.get(openid, [])) | set(tags))
                account.subscribed_at.setdefault(openid, sandbox.now())
            listed = list(openids)
        return json_response(
            {"appid": appid, "added": count or len(openids), "total": account.count(), "openids": listed}, 201
        )


def followers_seed(sandbox: Sandbox, *, appid: str, count: int) -> None:
    """`count` followers with generated openids for an Official Account, as a sandbox starts (make demo)."""
    with sandbox.lock:
        sandbox.part(Followers).of(_official_account(sandbox, appid)).generate(
            count=count, tag_ids=[], at=sandbox.now()
        )


def create_tag(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid", "name"}: a follower tag of an Official Account (201 {"id", "name"}), for sendall's tag_id."""
    body = ControlInput(request, allowed={"appid", "name"})
    appid, name = body.text("appid", required=True), body.text("name", required=True)
    if len(name.encode()) > TAG_NAME_MAX_BYTES:
        raise BadControlInput(f"name must be at most {TAG_NAME_MAX_BYTES} bytes, as WeChat's tag names are")
    with sandbox.lock:
        account = sandbox.part(Followers).of(_official_account(sandbox, appid))
        if name in account.tags.values():
            raise BadControlInput(f"{appid} already has a tag named {name!r}")
        if len(account.tags) >= MAX_TAGS:
            raise BadControlInput(f"an Official Account has at most {MAX_TAGS} tags")
        tag_id = max(account.tags, default=FIRST_TAG_ID - 1) + 1
        account.tags[tag_id] = name
    return json_response({"id": tag_id, "name": name}, 201)


def list_followers(sandbox: Sandbox, request: Request) -> Response:
    """GET ?appid=: how many follow the account, and its tags with how many followers each has."""
    appid = request.args.get("appid")
    with sandbox.lock:
        account = sandbox.part(Followers).of(_official_account(sandbox, appid))
        tags = [{"id": tag_id, "name": name, "count": account.count(tag_id)} for tag_id, name in account.tags.items()]
        return json_response({"appid": appid, "total": account.count(), "tags": tags})


def get_followers(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/user/get: GET ?next_openid= gives {"total", "count", "data": {"openid": [...]}, "next_openid"}.

    Up to 10,000 openids a page; pass the answer's next_openid for the next page, until
    a page has count 0. 40003 a next_openid that does not follow the account.
    """
    app = authenticated_app(sandbox, request)
    with sandbox.lock:
        account = sandbox.part(Followers).of(app.appid)
        openids = account.page(request.args.get("next_openid", ""), USER_GET_PAGE)
        answer: dict = {"total": account.count(), "count": len(openids)}
        if openids:
            answer["data"] = {"openid": openids}
        answer["next_openid"] = openids[-1] if openids else ""
    return json_response(answer)


def get_followers_info(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/user/info/batchget: POST {"user_list": [{"openid", "lang"?}, ... up to 100]} gives user_info_list.

    Each follower's subscribe_time and tagid_list; {"subscribe": 0, "openid"} for
    someone who does not follow. 40032 more than 100 (or none), 47001 wrong types.
    """
    app = authenticated_app(sandbox, request)
    users = json_body_of(request).get("user_list")
    if not isinstance(users, list) or not all(isinstance(user, dict) for user in users):
        raise WeChatErrcode(47001)
    openids = [user.get("openid") for user in users]
    if not all(isinstance(openid, str) for openid in openids):
        raise WeChatErrcode(47001)
    if not 1 <= len(openids) <= BATCHGET_MAX:
        raise WeChatErrcode(40032)
    with sandbox.lock:
        answers = sandbox.part(Followers).of(app.appid).infos_json(openids)
    # What json_response({"user_info_list": [...]}) writes, from each follower's answer already in JSON.
    return Response('{"user_info_list": [' + ", ".join(answers) + "]}", content_type="application/json; charset=utf-8")


def get_tags(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/tags/get: GET gives {"tags": [{"id", "name", "count"}]}: the tags and their follower counts."""
    app = authenticated_app(sandbox, request)
    with sandbox.lock:
        account = sandbox.part(Followers).of(app.appid)
        tags = [{"id": tag_id, "name": name, "count": account.count(tag_id)} for tag_id, name in account.tags.items()]
    return json_response({"tags": tags})


def follower_event_apply(sandbox: Sandbox, *, appid: str, openid: str, event: str) -> None:
    """What a follower's subscribe or unsubscribe does to who follows the account; call under the lock."""
    account = sandbox.part(Followers).of(appid)
    if event == "subscribe":
        account.subscribe(openid, sandbox.now())
    elif event == "unsubscribe":
        account.unsubscribe(openid, sandbox.now())


def create_tag_at_wechat(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/tags/create: POST {"tag": {"name"}} gives {"tag": {"id", "name"}}.

    45157 a name already used (or empty), 45158 a name over 30 bytes, 45056 the account's 101st tag.
    """
    app = authenticated_app(sandbox, request)
    tag = json_body_of(request).get("tag")
    name = tag.get("name") if isinstance(tag, dict) else None
    if not isinstance(name, str):
        raise WeChatErrcode(47001)
    if len(name.encode()) > TAG_NAME_MAX_BYTES:
        raise WeChatErrcode(45158)
    with sandbox.lock:
        account = sandbox.part(Followers).of(app.appid)
        if not name.strip() or name in account.tags.values():
            raise WeChatErrcode(45157)
        if len(account.tags) >= MAX_TAGS:
            raise WeChatErrcode(45056)
        tag_id = max(account.tags, default=FIRST_TAG_ID - 1) + 1
        account.tags[tag_id] = name
    return json_response({"tag": {"id": tag_id, "name": name}})


def _tagging_input(sandbox: Sandbox, request: Request) -> tuple[str, list[str], int]:
    app = authenticated_app(sandbox, request)
    body = json_body_of(request)
    openids, tag_id = body.get("openid_list"), body.get("tagid")
    if not isinstance(openids, list) or not all(isinstance(openid, str) for openid in openids):
        raise WeChatErrcode(47001)
    if isinstance(tag_id, str) and tag_id.isdigit():
        tag_id = int(tag_id)
    if not isinstance(tag_id, int) or isinstance(tag_id, bool):
        raise WeChatErrcode(47001)
    if not 1 <= len(openids) <= TAGGING_MAX_OPENIDS:
        raise WeChatErrcode(40032)
    return app.appid, openids, tag_id


def _change_tags(sandbox: Sandbox, request: Request, *, add: bool) -> Response:
    appid, openids, tag_id = _tagging_input(sandbox, request)
    with sandbox.lock:
        account = sandbox.part(Followers).of(appid)
        if tag_id not in account.tags:
            raise WeChatErrcode(45159)
        current = {openid: account.tags_of(openid) for openid in openids}
        if any(tag_ids is None for tag_ids in current.values()):
            raise WeChatErrcode(40003)  # nothing changes when one openid is refused
        changed = {
            openid: sorted(set(tag_ids) | {tag_id}) if add else [t for t in tag_ids if t != tag_id]
            for openid, tag_ids in current.items()
        }
        if any(len(tag_ids) > MAX_TAGS_PER_FOLLOWER for tag_ids in changed.values()):
            raise WeChatErrcode(45059)
        for openid, tag_ids in changed.items():
            account.set_tags(openid, tag_ids)
    return json_response({"errcode": 0, "errmsg": "ok"})


def tag_followers(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/tags/members/batchtagging: POST {"openid_list": [... up to 50], "tagid"} tags those followers.

    40032 more than 50 (or none), 45159 an unknown tag, 40003 an openid that does not follow,
    45059 a follower who would have more than 20 tags.
    """
    return _change_tags(sandbox, request, add=True)


def untag_followers(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/tags/members/batchuntagging: POST {"openid_list": [... up to 50], "tagid"} removes the tag.

    Errors as batchtagging's.
    """
    return _change_tags(sandbox, request, add=False)


ROUTES = (
    Route("/cgi-bin/user/get", ("GET",), get_followers, app_kinds=OFFICIAL_ACCOUNT),
    Route("/cgi-bin/user/info/batchget", ("POST",), get_followers_info, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/cgi-bin/tags/get", ("GET",), get_tags, app_kinds=OFFICIAL_ACCOUNT),
    Route("/cgi-bin/tags/create", ("POST",), create_tag_at_wechat, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/cgi-bin/tags/members/batchtagging", ("POST",), tag_followers, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route(
        "/cgi-bin/tags/members/batchuntagging", ("POST",), untag_followers, app_kinds=OFFICIAL_ACCOUNT, json_body=True
    ),
    Route("/sandbox/official-account/followers", ("POST",), add_followers),
    Route("/sandbox/official-account/followers", ("GET",), list_followers),
    Route("/sandbox/official-account/tags", ("POST",), create_tag),
)
