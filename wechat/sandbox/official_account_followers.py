"""An Official Account's followers and tags, as the control API sets them up for mass sends.

A 200,000-follower audience must cost next to nothing: followers added by count are
not stored one by one but as runs of generated openids ("o" + 9 characters of the
account + an 18-digit index: 28 characters, as WeChat's openids are), each run with
its tags; only followers added by openid are kept individually.
"""

from __future__ import annotations

import bisect
import hashlib
import re
from dataclasses import dataclass, field

from werkzeug.wrappers import Request, Response

from wechat.sandbox.control_input import ControlInput
from wechat.sandbox.errors import BadControlInput
from wechat.sandbox.protocols import json_response
from wechat.sandbox.routes import Route
from wechat.sandbox.state import Sandbox, snapshot_part

MAX_FOLLOWERS_PER_CALL = 1_000_000
MAX_OPENIDS_PER_CALL = 10_000
# The generated openids a POST lists back; past this it gives the first and last.
LISTED_OPENIDS = 10_000
# 用户标签管理: ids 0, 1 and 2 are WeChat's own; an account's tags start above them.
FIRST_TAG_ID = 100
MAX_TAGS = 100  # 用户标签管理: "一个公众号，最多可以创建100个标签"
TAG_NAME_MAX_BYTES = 30  # 用户标签管理: "标签名（30个字符以内）" (45158 past 30 bytes)
OPENID_SHAPE = re.compile(r"[A-Za-z0-9_-]{6,64}")
INDEX_DIGITS = 18


def _prefix(appid: str) -> str:
    return "o" + hashlib.sha256(appid.encode()).hexdigest()[:9]


@dataclass
class Run:
    """Generated followers start..start+count-1, all with the same tags."""

    start: int
    count: int
    tag_ids: list[int]


@dataclass
class AccountFollowers:
    appid: str
    runs: list[Run] = field(default_factory=list)
    generated: int = 0
    by_openid: dict[str, list[int]] = field(default_factory=dict)  # openid -> tag ids
    tags: dict[int, str] = field(default_factory=dict)

    def openid(self, index: int) -> str:
        return f"{_prefix(self.appid)}{index:0{INDEX_DIGITS}d}"

    def tags_of(self, openid: str) -> list[int] | None:
        """The follower's tag ids, or None if `openid` does not follow the account."""
        if openid in self.by_openid:
            return self.by_openid[openid]
        prefix = _prefix(self.appid)
        digits = openid[len(prefix) :]
        if not openid.startswith(prefix) or len(digits) != INDEX_DIGITS or not digits.isdigit():
            return None
        index = int(digits)
        if index >= self.generated:
            return None
        run = self.runs[bisect.bisect_right([run.start for run in self.runs], index) - 1]
        return run.tag_ids

    def count(self, tag_id: int | None = None) -> int:
        """How many follow the account (with `tag_id`, how many have that tag)."""
        if tag_id is None:
            return self.generated + len(self.by_openid)
        generated = sum(run.count for run in self.runs if tag_id in run.tag_ids)
        return generated + sum(1 for tag_ids in self.by_openid.values() if tag_id in tag_ids)

    def to_snapshot(self) -> dict:
        return {
            "runs": [[run.start, run.count, run.tag_ids] for run in self.runs],
            "generated": self.generated,
            "by_openid": self.by_openid,
            "tags": {str(tag_id): name for tag_id, name in self.tags.items()},
        }

    @classmethod
    def from_snapshot(cls, appid: str, data: dict) -> AccountFollowers:
        return cls(
            appid=appid,
            runs=[
                Run(start=int(start), count=int(count), tag_ids=[int(t) for t in tags])
                for start, count, tags in data["runs"]
            ],
            generated=int(data["generated"]),
            by_openid={str(openid): [int(t) for t in tags] for openid, tags in data["by_openid"].items()},
            tags={int(tag_id): str(name) for tag_id, name in data["tags"].items()},
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
            account.runs.append(Run(start=start, count=count, tag_ids=tags))
            account.generated += count
            shown = range(start, start + count) if count <= LISTED_OPENIDS else (start, start + count - 1)
            listed = [account.openid(index) for index in shown]
        else:
            for openid in openids:
                account.by_openid[openid] = sorted(set(account.by_openid.get(openid, [])) | set(tags))
            listed = list(openids)
        return json_response(
            {"appid": appid, "added": count or len(openids), "total": account.count(), "openids": listed}, 201
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


ROUTES = (
    Route("/sandbox/official-account/followers", ("POST",), add_followers),
    Route("/sandbox/official-account/followers", ("GET",), list_followers),
    Route("/sandbox/official-account/tags", ("POST",), create_tag),
)
