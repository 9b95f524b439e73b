"""Mass sends of an Official Account's drafts: message/mass/sendall|send|preview|get and MASSSENDJOBFINISH.

Follows 公众号文档 "群发接口和原创校验" (前言): a subscription account's mass send "每天可成功调用1次"
(once a Beijing calendar day, to all followers or a tag; a send from the MP console counts) and
it may not send to an openid list (接口目录: 根据OpenID列表群发, 订阅号不可用: 48001 here). A
service account's sends to all followers (is_to_all) plus its console sends are at most four a
Beijing calendar month; its sends to a tag or list are limited only per day (100, the figure
that document gave before it pointed to 接口调用频次限制说明), while "用户每月只能接收4条
群发消息，多于4条的群发将对该用户发送失败": each follower receives at most four a Beijing
calendar month, and a send filters out those who have had four (FilterCount, 事件推送群发结果:
"用户接收已超4条的过滤"). So a service account's push may go in several batches to different
followers, each receiving it once. Console sends are registered through the control API and
taken as sent to all followers. 45028 "has no masssend quota" past the account's limit;
the mass-send endpoints take 60 requests a minute;
a clientmsgid (≤ 64 bytes, 45067) seen in the last 24 hours is refused with 45065
"clientmsgid exist" and the msg_id of the send it names; without one, WeChat derives it
from the audience and the content, so the same send repeated is refused alike. Each
accepted send ends a moment later with MASSSENDJOBFINISH ("事件推送群发结果") pushed to
the account's callback URL, counting the audience from the sandbox's followers.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, WeChatErrcode
from wechat_sandbox.official_account_followers import AccountFollowers, Followers
from wechat_sandbox.official_account_publishing import PublishingLibrary, article_urls
from wechat_sandbox.official_account_push import push_to_official_account
from wechat_sandbox.protocols import json_response
from wechat_sandbox.routes import Route, json_body_of
from wechat_sandbox.state import snapshot_part
from wechat_sandbox.tokens import authenticated_app
from wechat_sandbox.wechat_apps import OFFICIAL_ACCOUNT

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox, SandboxApp

BEIJING = timezone(timedelta(hours=8))
SUBSCRIPTION_SENDS_PER_DAY = 1
SERVICE_SENDS_PER_DAY = 100
# 群发接口和原创校验 (前言): 服务号 is_to_all sends and console sends, four a Beijing calendar month.
SERVICE_SENDS_TO_ALL_PER_MONTH = 4
SERVICE_RECEIPTS_PER_MONTH = 4
CALLS_PER_MINUTE = 60
MINUTE_SECONDS = 60
CLIENTMSGID_SECONDS = 86_400
CLIENTMSGID_MAX_BYTES = 64
MIN_OPENIDS, MAX_OPENIDS = 2, 10_000
# The job runs a moment before WeChat reports on it: the answer with msg_id comes first.
MASS_SEND_JOB_SECONDS = 1.0
# 事件推送群发结果: FromUserName is "公众号群发助手的微信号，为mphelper".
MASS_SEND_HELPER = "mphelper"
STATUS_SHAPE = re.compile(r"send success|send fail|err\(\d{5}\)")
PREVIEWS_KEPT = 1_000


def quota_window(app: SandboxApp, at: float) -> tuple[int, ...]:
    """The Beijing calendar day that sandbox time `at` falls in: both account types' send limits are daily."""
    beijing = datetime.fromtimestamp(at, tz=UTC).astimezone(BEIJING)
    return (beijing.year, beijing.month, beijing.day)


def beijing_month(at: float) -> tuple[int, int]:
    beijing = datetime.fromtimestamp(at, tz=UTC).astimezone(BEIJING)
    return (beijing.year, beijing.month)


@dataclass
class MassSend:
    appid: str
    msg_id: int
    msg_data_id: int
    endpoint: str  # "sendall" or "send"
    clientmsgid: str | None
    dedupe_key: str  # the clientmsgid, or WeChat's stand-in derived from audience and content
    media_id: str
    audience: dict
    at: float
    status: str
    total_count: int
    filter_count: int
    sent_count: int
    error_count: int
    article_urls: list[str]
    deleted_articles: list[int] = field(default_factory=list)  # 1-based; 0 is the whole send
    openids: list[str] = field(default_factory=list)  # send's touser, for each follower's monthly four

    @cached_property
    def openid_set(self) -> frozenset[str]:
        return frozenset(self.openids)


@snapshot_part("official_account_mass_sends")
class MassSends:
    """Every accepted mass send and preview, each account's recent calls, and outcomes set for the next send."""

    def __init__(self) -> None:
        self.sends: dict[int, MassSend] = {}
        self.previews: list[dict] = []
        self.calls: dict[str, list[float]] = {}
        self.next_status: dict[str, str] = {}
        # Sends made in WeChat's console (registered by the control API): sandbox times, by account.
        self.console_sends: dict[str, list[float]] = {}
        # message/mass/get answers these msg_status values for these msg_ids instead of the outcome.
        self.status_overrides: dict[int, str] = {}
        # Accounts whose next send's MASSSENDJOBFINISH carries an empty ArticleUrlResult.
        self.next_without_urls: set[str] = set()
        self._ids = itertools.count(1_000_000_001)

    def count_call(self, appid: str, now: float) -> None:
        """Record a mass-send request, or refuse it with 45011 past 60 in the last minute."""
        recent = [at for at in self.calls.get(appid, []) if at > now - MINUTE_SECONDS]
        if len(recent) >= CALLS_PER_MINUTE:
            self.calls[appid] = recent
            raise WeChatErrcode(45011)
        self.calls[appid] = [*recent, now]

    def earlier(self, appid: str, dedupe_key: str, now: float) -> MassSend | None:
        for send in self.sends.values():
            if send.appid == appid and send.dedupe_key == dedupe_key and send.at > now - CLIENTMSGID_SECONDS:
                return send
        return None

    def used(self, app: SandboxApp, now: float) -> int:
        """Every send of the account this Beijing day: the daily limit counts each call."""
        window = quota_window(app, now)
        return sum(
            1 for send in self.sends.values() if send.appid == app.appid and quota_window(app, send.at) == window
        )

    def quota_refuses(self, app: SandboxApp, now: float, *, to_all: bool) -> bool:
        """Whether this send is past the account's quota (群发接口和原创校验, 前言), console sends counted."""
        consoles = self.console_sends.get(app.appid, [])
        if app.account_type != "service":
            today = quota_window(app, now)
            console_today = sum(1 for at in consoles if quota_window(app, at) == today)
            return self.used(app, now) + console_today >= SUBSCRIPTION_SENDS_PER_DAY
        if self.used(app, now) >= SERVICE_SENDS_PER_DAY:
            return True
        if not to_all:
            return False  # a tag or a list: not in the monthly four
        month = beijing_month(now)
        to_all_this_month = sum(
            1
            for send in self.sends.values()
            if send.appid == app.appid and send.audience.get("is_to_all") and beijing_month(send.at) == month
        )
        console_this_month = sum(1 for at in consoles if beijing_month(at) == month)
        return to_all_this_month + console_this_month >= SERVICE_SENDS_TO_ALL_PER_MONTH

    def next_id(self) -> int:
        return next(self._ids)

    def forget_app(self, appid: str) -> None:
        self.sends = {msg_id: send for msg_id, send in self.sends.items() if send.appid != appid}
        self.previews = [preview for preview in self.previews if preview["appid"] != appid]
        self.calls.pop(appid, None)
        self.next_status.pop(appid, None)
        self.console_sends.pop(appid, None)
        self.next_without_urls.discard(appid)
        self.status_overrides = {msg_id: st for msg_id, st in self.status_overrides.items() if msg_id in self.sends}

    def to_snapshot(self) -> dict:
        return {
            "sends": [asdict(send) for send in self.sends.values()],
            "previews": self.previews,
            "calls": self.calls,
            "next_status": self.next_status,
            "console_sends": self.console_sends,
            "next_without_urls": sorted(self.next_without_urls),
            "status_overrides": {str(msg_id): status for msg_id, status in self.status_overrides.items()},
        }

    @classmethod
    def from_snapshot(cls, data: dict) -> MassSends:
        part = cls()
        part.sends = {send.msg_id: send for send in (MassSend(**entry) for entry in data["sends"])}
        part.previews = [dict(preview) for preview in data["previews"]]
        part.calls = {str(appid): [float(at) for at in times] for appid, times in data["calls"].items()}
        part.next_status = {str(appid): str(status) for appid, status in data["next_status"].items()}
        part.console_sends = {
            str(appid): [float(at) for at in times] for appid, times in data.get("console_sends", {}).items()
        }
        part.next_without_urls = set(data.get("next_without_urls", []))
        part.status_overrides = {int(msg_id): str(st) for msg_id, st in data.get("status_overrides", {}).items()}
        highest = max((max(send.msg_id, send.msg_data_id) for send in part.sends.values()), default=1_000_000_000)
        part._ids = itertools.count(highest + 1)
        return part


# --- reading a request -------------------------------------------------------------------


def _mpnews_media_id(body: dict) -> str:
    """The draft an mpnews message sends; 40008 for another msgtype (only mpnews is modelled)."""
    if body.get("msgtype") != "mpnews":
        raise WeChatErrcode(40008)
    mpnews = body.get("mpnews")
    if not isinstance(mpnews, dict) or not isinstance(mpnews.get("media_id"), str):
        raise WeChatErrcode(47001)
    return mpnews["media_id"]


def _clientmsgid(body: dict) -> str | None:
    value = body.get("clientmsgid")
    if value is None:
        return None
    if not isinstance(value, str):
        raise WeChatErrcode(47001)
    if len(value.encode()) > CLIENTMSGID_MAX_BYTES:
        raise WeChatErrcode(45067)
    return value


def _check_ignore_reprint(body: dict) -> None:
    # WeChat takes it as a number or a numeric string (its own examples send "0").
    if body.get("send_ignore_reprint", 0) not in (0, 1, "0", "1"):
        raise WeChatErrcode(47001)


def _filter_audience(body: dict, account: AccountFollowers) -> tuple[dict, int]:
    """sendall's filter: everyone (is_to_all) or one tag; the audience and its size."""
    audience = body.get("filter")
    if not isinstance(audience, dict) or not isinstance(audience.get("is_to_all", False), bool):
        raise WeChatErrcode(47001)
    if audience.get("is_to_all"):
        return {"is_to_all": True}, account.count()
    tag_id = audience.get("tag_id")
    if isinstance(tag_id, str) and tag_id.isdigit():
        tag_id = int(tag_id)
    if not isinstance(tag_id, int) or isinstance(tag_id, bool):
        raise WeChatErrcode(47001)
    if tag_id not in account.tags:
        raise WeChatErrcode(45159)
    return {"is_to_all": False, "tag_id": tag_id}, account.count(tag_id)


def _openid_audience(body: dict, account: AccountFollowers) -> tuple[dict, int, int]:
    """send's touser list: the audience, how many it names and how many of them follow the account."""
    touser = body.get("touser")
    if not isinstance(touser, list) or not all(isinstance(openid, str) for openid in touser):
        raise WeChatErrcode(47001)
    if len(touser) < MIN_OPENIDS:
        raise WeChatErrcode(40130)
    if len(touser) > MAX_OPENIDS:
        raise WeChatErrcode(40032)
    unique = set(touser)
    followers = sum(1 for openid in unique if account.tags_of(openid) is not None)
    digest = hashlib.sha256("\n".join(sorted(unique)).encode()).hexdigest()
    return {"touser_count": len(touser), "touser_sha256": digest}, len(unique), followers


# --- WeChat endpoints ----------------------------------------------------------------------


def send_to_all_or_tag(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/message/mass/sendall: POST {"filter": {"is_to_all", "tag_id"?}, "mpnews", "msgtype", ...}.

    mpnews is {"media_id": <a draft>} and msgtype "mpnews"; clientmsgid and
    send_ignore_reprint are optional.

    Answers {"errcode": 0, "errmsg": "send job submission success", "msg_id", "msg_data_id"}
    and pushes MASSSENDJOBFINISH. 45028 out of quota (1 a Beijing day for a subscription
    account, 100 a Beijing day for a service account, whose followers each receive at most
    4 a Beijing month: the rest are filtered out of the send), 45065 with the earlier msg_id for
    a clientmsgid (or the same audience and draft) within 24 hours, 45011 past 60 calls a
    minute, 40007 not this account's draft, 45159 unknown tag, 40008 not mpnews.
    """
    return _mass_send(sandbox, request, endpoint="sendall")


def send_to_openids(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/message/mass/send: POST {"touser": [2-10,000 openids], "mpnews", "msgtype", ...}.

    As sendall, with 40130 for fewer than 2 openids and 40032 for more than 10,000;
    openids that do not follow the account are filtered out of the counts.
    """
    return _mass_send(sandbox, request, endpoint="send")


def _mass_send(sandbox: Sandbox, request: Request, *, endpoint: str) -> Response:
    app = authenticated_app(sandbox, request)
    body = json_body_of(request)
    with sandbox.lock:
        sends = sandbox.part(MassSends)
        now = sandbox.now()
        sends.count_call(app.appid, now)
        account = sandbox.part(Followers).of(app.appid)
        if endpoint == "send" and app.account_type != "service":
            # 接口目录: 根据OpenID列表群发 — 订阅号不可用 (a service account's API only).
            raise WeChatErrcode(48001)
        if endpoint == "sendall":
            audience, total = _filter_audience(body, account)
            filtered = total
        else:
            audience, total, filtered = _openid_audience(body, account)
        media_id = _mpnews_media_id(body)
        clientmsgid = _clientmsgid(body)
        _check_ignore_reprint(body)
        draft = sandbox.part(PublishingLibrary).draft_of(app.appid, media_id)
        dedupe_key = clientmsgid or f"{endpoint}:{sorted(audience.items())}:{media_id}"
        earlier = sends.earlier(app.appid, dedupe_key, now)
        if earlier is not None:
            raise WeChatErrcode(45065, extra={"msg_id": earlier.msg_id})
        if sends.quota_refuses(app, now, to_all=bool(audience.get("is_to_all"))):
            raise WeChatErrcode(45028)
        if app.account_type == "service":
            filtered -= _followers_past_monthly_receipts(sends, app, account, body, audience, now)
        status = sends.next_status.pop(app.appid, "send success")
        without_urls = app.appid in sends.next_without_urls
        sends.next_without_urls.discard(app.appid)
        sent = filtered if status == "send success" else 0
        msg_id, msg_data_id = sends.next_id(), sends.next_id()
        send = MassSend(
            appid=app.appid,
            msg_id=msg_id,
            msg_data_id=msg_data_id,
            endpoint=endpoint,
            clientmsgid=clientmsgid,
            dedupe_key=dedupe_key,
            media_id=media_id,
            audience=audience,
            at=now,
            status=status,
            total_count=total,
            filter_count=filtered,
            sent_count=sent,
            error_count=filtered - sent,
            article_urls=[] if without_urls else article_urls(app.appid, mid=msg_data_id, count=len(draft.news_item)),
            openids=sorted(set(body["touser"])) if endpoint == "send" else [],
        )
        sends.sends[msg_id] = send
        if app.callback is not None and app.callback.token is not None:
            _push_job_finished(sandbox, app, send)
    return json_response(
        {"errcode": 0, "errmsg": "send job submission success", "msg_id": msg_id, "msg_data_id": msg_data_id}
    )


def _reaches(send: MassSend, openid: str, account: AccountFollowers) -> bool:
    """Whether an earlier send went to this follower: followed by then (to the second, as subscribe_time
    says) and in its audience (judged by today's tags for a tag send)."""
    if account.info(openid)["subscribe_time"] > send.at:
        return False
    if send.endpoint == "send":
        return openid in send.openid_set
    if send.audience.get("is_to_all"):
        return True
    return send.audience.get("tag_id") in (account.tags_of(openid) or [])


def _followers_past_monthly_receipts(
    sends: MassSends, app: SandboxApp, account: AccountFollowers, body: dict, audience: dict, now: float
) -> int:
    """How many followers in this send's audience already received four mass sends this Beijing month."""
    month = beijing_month(now)
    earlier = [send for send in sends.sends.values() if send.appid == app.appid and beijing_month(send.at) == month]
    # Console sends went to every follower who followed by then.
    consoles = [at for at in sends.console_sends.get(app.appid, []) if beijing_month(at) == month]
    if len(earlier) + len(consoles) < SERVICE_RECEIPTS_PER_MONTH:
        return 0  # nobody can have had four yet: the common case costs nothing
    if "touser_count" in audience:
        members = [openid for openid in set(body["touser"]) if account.tags_of(openid) is not None]
    else:
        tag_id = audience.get("tag_id")
        members = [
            openid
            for openid in account.page("", account.count())
            if tag_id is None or tag_id in (account.tags_of(openid) or [])
        ]
    return sum(
        1
        for openid in members
        if sum(1 for send in earlier if _reaches(send, openid, account))
        + sum(1 for at in consoles if account.info(openid)["subscribe_time"] <= at)
        >= SERVICE_RECEIPTS_PER_MONTH
    )


def _push_job_finished(sandbox: Sandbox, app: SandboxApp, send: MassSend) -> None:
    """事件推送群发结果: the MASSSENDJOBFINISH event, with the elements 事件推送群发结果 documents."""
    urls = send.article_urls if send.status == "send success" else []
    fields = {
        "CreateTime": int(sandbox.now() + MASS_SEND_JOB_SECONDS),
        "MsgType": "event",
        "Event": "MASSSENDJOBFINISH",
        "MsgID": send.msg_id,
        "Status": send.status,
        "TotalCount": send.total_count,
        "FilterCount": send.filter_count,
        "SentCount": send.sent_count,
        "ErrorCount": send.error_count,
        "CopyrightCheckResult": {"Count": 0, "ResultList": {"item": []}, "CheckState": 1},
        "ArticleUrlResult": {
            "Count": len(urls),
            "ResultList": {"item": [{"ArticleIdx": index, "ArticleUrl": url} for index, url in enumerate(urls, 1)]},
        },
    }
    push_to_official_account(
        sandbox,
        app,
        openid=MASS_SEND_HELPER,
        fields=fields,  # type: ignore[arg-type]
        description=f"MASSSENDJOBFINISH for msg_id {send.msg_id}",
        delay=MASS_SEND_JOB_SECONDS,
    )


def preview(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/message/mass/preview: POST {"touser" (an openid) or "towxname", "mpnews", "msgtype"}.

    Sends the draft to one person to check on a phone: no quota used, no event pushed;
    it counts towards the 60 calls a minute. 40003 an openid that does not follow the
    account, 40007 not this account's draft.
    """
    app = authenticated_app(sandbox, request)
    body = json_body_of(request)
    with sandbox.lock:
        sends = sandbox.part(MassSends)
        now = sandbox.now()
        sends.count_call(app.appid, now)
        touser = body.get("touser")
        target = touser if touser is not None else body.get("towxname")
        if target is None:
            raise WeChatErrcode(41009)
        if not isinstance(target, str) or not target:
            raise WeChatErrcode(47001)
        if touser is not None and sandbox.part(Followers).of(app.appid).tags_of(touser) is None:
            raise WeChatErrcode(40003)
        media_id = _mpnews_media_id(body)
        sandbox.part(PublishingLibrary).draft_of(app.appid, media_id)
        msg_id = sends.next_id()
        sends.previews.append({"appid": app.appid, "msg_id": msg_id, "to": target, "media_id": media_id, "at": now})
        del sends.previews[:-PREVIEWS_KEPT]
    return json_response({"errcode": 0, "errmsg": "preview success", "msg_id": msg_id})


def get_mass_send(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/message/mass/get: POST {"msg_id"} gives {"msg_id", "msg_status"}.

    查询群发消息发送状态: SEND_SUCCESS, SENDING, SEND_FAIL or DELETE. SENDING (e.g. while an
    administrator has not yet confirmed a protected send) is set through the control API.

    WeChat documents no errcode for a msg_id it never issued; the sandbox answers 40007.
    """
    app = authenticated_app(sandbox, request)
    msg_id = json_body_of(request).get("msg_id")
    if isinstance(msg_id, str) and msg_id.isdigit():
        msg_id = int(msg_id)
    if not isinstance(msg_id, int) or isinstance(msg_id, bool):
        raise WeChatErrcode(47001)
    with sandbox.lock:
        send = sandbox.part(MassSends).sends.get(msg_id)
        if send is None or send.appid != app.appid:
            raise WeChatErrcode(40007)
        return json_response(
            {"msg_id": msg_id, "msg_status": _msg_status(send, sandbox.part(MassSends).status_overrides)}
        )


def _msg_status(send: MassSend, overrides: dict[int, str]) -> str:
    if send.msg_id in overrides:
        return overrides[send.msg_id]
    if 0 in send.deleted_articles:
        return "DELETE"
    return "SEND_SUCCESS" if send.status == "send success" else "SEND_FAIL"


def delete_mass_send(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/message/mass/delete: POST {"msg_id", "article_idx"?} deletes one sent article or the whole send.

    article_idx is 1-based; 0 or none deletes the whole send, and mass/get then says
    DELETE. 40007 a msg_id never issued, 47001 an article_idx out of range.
    """
    app = authenticated_app(sandbox, request)
    body = json_body_of(request)
    msg_id, article_idx = body.get("msg_id"), body.get("article_idx", 0)
    if isinstance(msg_id, str) and msg_id.isdigit():
        msg_id = int(msg_id)
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (msg_id, article_idx)):
        raise WeChatErrcode(47001)
    with sandbox.lock:
        send = sandbox.part(MassSends).sends.get(msg_id)
        if send is None or send.appid != app.appid:
            raise WeChatErrcode(40007)
        if not 0 <= article_idx <= len(send.article_urls):
            raise WeChatErrcode(47001)
        send.deleted_articles = sorted({*send.deleted_articles, article_idx})
    return json_response({"errcode": 0, "errmsg": "ok"})


# --- control -----------------------------------------------------------------------------


def list_mass_sends(sandbox: Sandbox, request: Request) -> Response:
    """GET ?appid=: the mass sends WeChat accepted (oldest first), accepted sends per clientmsgid, and previews.

    Each send: {msg_id, msg_data_id, endpoint, clientmsgid, media_id, audience, at,
    status, total_count, filter_count, sent_count, error_count, article_urls}.
    per_clientmsgid counts accepted sends by clientmsgid: a batch sent exactly once shows 1.
    """
    appid = request.args.get("appid")
    with sandbox.lock:
        part = sandbox.part(MassSends)
        sends = [asdict(send) for send in part.sends.values() if appid is None or send.appid == appid]
        previews = [dict(preview) for preview in part.previews if appid is None or preview["appid"] == appid]
    for send in sends:
        del send["dedupe_key"], send["openids"]
    per_clientmsgid: dict[str, int] = {}
    for send in sends:
        if send["clientmsgid"] is not None:
            per_clientmsgid[send["clientmsgid"]] = per_clientmsgid.get(send["clientmsgid"], 0) + 1
    return json_response(
        {"count": len(sends), "sends": sends, "per_clientmsgid": per_clientmsgid, "previews": previews}
    )


def set_next_outcome(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid", "status"}: the next mass send of that account ends with this Status (201).

    status: "send success", "send fail" or "err(N)" with WeChat's five-digit reason
    (e.g. "err(20001)", 事件推送群发结果). A failed send reaches no one: SentCount 0,
    ErrorCount the filtered audience, no article URLs. "article_urls": false makes even a
    successful send's event carry an empty ArticleUrlResult (Count 0), as WeChat's sometimes does.
    """
    body = ControlInput(request, allowed={"appid", "status", "article_urls"})
    appid, status = body.text("appid", required=True), body.text("status", required=True)
    without_urls = body.has("article_urls") and body.raw("article_urls") is False
    if body.has("article_urls") and not isinstance(body.raw("article_urls"), bool):
        raise BadControlInput("article_urls must be true or false")
    if not STATUS_SHAPE.fullmatch(status):
        raise BadControlInput('status must be "send success", "send fail" or "err(N)" with a five-digit N')
    with sandbox.lock:
        app = sandbox.registered_app(appid)
        if app.kind != "official_account":
            raise BadControlInput(f"{appid} is a {app.kind}; mass sends are an Official Account's")
        part = sandbox.part(MassSends)
        part.next_status[appid] = status
        if without_urls:
            part.next_without_urls.add(appid)
        else:
            part.next_without_urls.discard(appid)
    return json_response({"appid": appid, "status": status, "article_urls": not without_urls}, 201)


def register_console_send(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid", "at"?}: a mass send made in WeChat's MP console at sandbox time `at` (default now) (201).

    群发接口和原创校验 (前言): console sends count in the quota (a subscription account's one a
    day, a service account's four to all followers a month) and, taken as sent to everyone who
    followed by then, in each follower's four a month.
    """
    body = ControlInput(request, allowed={"appid", "at"})
    appid = body.text("appid", required=True)
    at = body.number("at", minimum=0, maximum=4_102_444_800)  # up to 2100
    with sandbox.lock:
        app = sandbox.registered_app(appid)
        if app.kind != "official_account":
            raise BadControlInput(f"{appid} is a {app.kind}; mass sends are an Official Account's")
        when = sandbox.now() if at is None else at
        sandbox.part(MassSends).console_sends.setdefault(appid, []).append(when)
        count = len(sandbox.part(MassSends).console_sends[appid])
    return json_response({"appid": appid, "at": when, "console_sends": count}, 201)


MSG_STATUSES = ("SEND_SUCCESS", "SENDING", "SEND_FAIL", "DELETE")


def set_mass_send_state(sandbox: Sandbox, request: Request) -> Response:
    """POST {"msg_id", "msg_status"}: message/mass/get answers this msg_status for the send (201); null clears it.

    查询群发消息发送状态: SENDING is what WeChat answers while a send has not ended (an
    administrator's confirmation pending); the send's MASSSENDJOBFINISH is unaffected.
    """
    body = ControlInput(request, allowed={"msg_id", "msg_status"})
    msg_id, msg_status = body.integer("msg_id", minimum=1, maximum=2**63 - 1), body.text("msg_status")
    if msg_id is None:
        raise BadControlInput("msg_id is required")
    if msg_status is not None and msg_status not in MSG_STATUSES:
        raise BadControlInput(f"msg_status must be one of {', '.join(MSG_STATUSES)}, or null to clear it")
    with sandbox.lock:
        part = sandbox.part(MassSends)
        if msg_id not in part.sends:
            raise BadControlInput(f"no mass send has msg_id {msg_id}")
        if msg_status:
            part.status_overrides[msg_id] = msg_status
        else:
            part.status_overrides.pop(msg_id, None)
    return json_response({"msg_id": msg_id, "msg_status": msg_status}, 201)


ROUTES = (
    Route("/cgi-bin/message/mass/sendall", ("POST",), send_to_all_or_tag, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/cgi-bin/message/mass/send", ("POST",), send_to_openids, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/cgi-bin/message/mass/preview", ("POST",), preview, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/cgi-bin/message/mass/get", ("POST",), get_mass_send, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/cgi-bin/message/mass/delete", ("POST",), delete_mass_send, app_kinds=OFFICIAL_ACCOUNT, json_body=True),
    Route("/sandbox/official-account/mass-sends", ("GET",), list_mass_sends),
    Route("/sandbox/official-account/mass-send-outcome", ("POST",), set_next_outcome),
    Route("/sandbox/official-account/console-sends", ("POST",), register_console_send),
    Route("/sandbox/official-account/mass-send-state", ("POST",), set_mass_send_state),
)
