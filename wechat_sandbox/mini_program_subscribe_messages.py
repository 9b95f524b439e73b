"""Mini Program subscribe messages: cgi-bin/message/subscribe/send, and the control endpoints that stand in for
the MP console (the account's templates) and for the buyer's phone (what they accepted in wx.requestSubscribeMessage).

WeChat's rules (小程序 "发送订阅消息 subscribeMessage.send", its errcode table and "订阅消息参数值内容限制说明"):
- a one-time subscription: each "accept" the buyer gave a template in wx.requestSubscribeMessage allows one
  message of that template to them; without one left the send is refused with 43101 (用户拒绝接受消息);
- 40037 a template id the account does not have; 40003 an empty or unknown openid;
- 47003 (模板参数不准确) for data that is empty or breaks its keyword's type; errmsg names the field,
  e.g. "argument invalid! data.thing1.value invalid";
- a keyword's type is its name without the trailing digits (thing1 is a `thing`), each with its limit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass, field

from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, WeChatErrcode
from wechat_sandbox.protocols import json_response
from wechat_sandbox.routes import Route, json_body_of
from wechat_sandbox.state import Sandbox, SandboxApp, snapshot_part
from wechat_sandbox.tokens import authenticated_app

MINI_PROGRAMS_ONLY = ("mini_program",)
# What wx.requestSubscribeMessage answers per template id (its success result): only "accept" allows a message.
SUBSCRIBE_RESULTS = ("accept", "reject", "ban", "filter")
KEYWORD_NAME = re.compile(r"(?P<type>[a-z_]+?)(?P<number>\d+)")
KEYWORD_TYPES = (
    "thing",
    "number",
    "letter",
    "symbol",
    "character_string",
    "time",
    "date",
    "amount",
    "phone_number",
    "car_number",
    "name",
    "phrase",
)
MESSAGES_KEPT = 10_000
ERRMSGS = {
    40037: "invalid template_id",
    43101: "user refuse to accept the msg",
}

_DATE = r"\d{4}(年\d{1,2}月\d{1,2}日|-\d{1,2}-\d{1,2}|/\d{1,2}/\d{1,2})"
_TIME = r"\d{1,2}:\d{2}(:\d{2})?"
_TIME_POINT = re.compile(rf"({_DATE} ?)?{_TIME}")
_DATE_POINT = re.compile(rf"{_DATE}( ?{_TIME})?")


def _is_chinese(character: str) -> bool:
    return "\u4e00" <= character <= "\u9fff"


def _is_symbol(character: str) -> bool:
    return unicodedata.category(character)[0] in "PS"


def _points(value: str, pattern: re.Pattern[str]) -> bool:
    # Both time and date take a period: two points joined by "~".
    return all(pattern.fullmatch(point.strip()) for point in value.split("~")) and value.count("~") <= 1


def _name_fits(value: str) -> bool:
    if any(_is_chinese(character) for character in value):
        return len(value) <= 10  # mixed Chinese and letters count as a Chinese name
    return len(value) <= 20 and all(character.isascii() and not character.isdigit() for character in value)


# 订阅消息参数值内容限制说明, type by type.
VALUE_RULES = {
    "thing": lambda value: len(value) <= 20,
    "number": lambda value: len(value) <= 32 and re.fullmatch(r"\d+(\.\d+)?", value) is not None,
    "letter": lambda value: len(value) <= 32 and re.fullmatch(r"[A-Za-z]+", value) is not None,
    "symbol": lambda value: len(value) <= 5 and all(_is_symbol(character) for character in value),
    "character_string": lambda value: len(value) <= 32 and re.fullmatch(r"[\x21-\x7e]+", value) is not None,
    "time": lambda value: _points(value, _TIME_POINT),
    "date": lambda value: _points(value, _DATE_POINT),
    "amount": lambda value: re.fullmatch(r"[¥￥$€£]?(?=[\d.]{1,10}元?$)\d+(\.\d{1,2})?元?", value) is not None,
    "phone_number": lambda value: len(value) <= 17 and re.fullmatch(r"[\d+\-() ]+", value) is not None,
    "car_number": lambda value: (
        2 <= len(value) <= 8
        and all(character.isascii() and character.isalnum() for character in value[1:-1])
        and all(_is_chinese(character) or (character.isascii() and character.isalnum()) for character in value)
    ),
    "name": _name_fits,
    "phrase": lambda value: len(value) <= 5 and all(_is_chinese(character) for character in value),
}


@dataclass
class ReceivedMessage:
    appid: str
    openid: str
    template_id: str
    page: str | None
    data: dict[str, str]
    at: float
    miniprogram_state: str | None = None
    lang: str | None = None


@snapshot_part("subscribe_messages")
@dataclass
class SubscribeMessages:
    """Each account's templates (keyword names), the acceptances buyers gave, and the messages they received."""

    # appid -> template id -> keyword names
    templates: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    # (appid, openid, template id) -> messages still allowed
    acceptances: dict[tuple[str, str, str], int] = field(default_factory=dict)
    received: list[ReceivedMessage] = field(default_factory=list)

    def forget_app(self, appid: str) -> None:
        self.templates.pop(appid, None)
        self.acceptances = {key: count for key, count in self.acceptances.items() if key[0] != appid}
        self.received = [message for message in self.received if message.appid != appid]

    def to_snapshot(self) -> dict:
        return {
            "templates": self.templates,
            "acceptances": [
                {"appid": appid, "openid": openid, "template_id": template_id, "count": count}
                for (appid, openid, template_id), count in self.acceptances.items()
            ],
            "received": [asdict(message) for message in self.received],
        }

    @classmethod
    def from_snapshot(cls, data: dict) -> SubscribeMessages:
        return cls(
            templates={
                str(appid): {str(template): [str(name) for name in names] for template, names in templates.items()}
                for appid, templates in data["templates"].items()
            },
            acceptances={
                (str(entry["appid"]), str(entry["openid"]), str(entry["template_id"])): int(entry["count"])
                for entry in data["acceptances"]
            },
            received=[ReceivedMessage(**entry) for entry in data["received"]],
        )


def _data_values(data: object, keywords: list[str]) -> dict[str, str]:
    """The template's keywords' values from `data` ({"thing1": {"value": "..."}}), or 47003 naming the first bad one."""
    if not isinstance(data, dict):
        raise WeChatErrcode(47003, "argument invalid! data is empty")
    values: dict[str, str] = {}
    for name in keywords:
        entry = data.get(name)
        value = entry.get("value") if isinstance(entry, dict) else None
        if value is None or (isinstance(value, str) and not value.strip()):
            raise WeChatErrcode(47003, f"argument invalid! data.{name}.value is empty")
        text = str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value
        if not isinstance(text, str) or not VALUE_RULES[keyword_type(name)](text):
            raise WeChatErrcode(47003, f"argument invalid! data.{name}.value invalid")
        values[name] = text
    return values


def keyword_type(name: str) -> str:
    match = KEYWORD_NAME.fullmatch(name)
    if match is None or match["type"] not in KEYWORD_TYPES:
        raise BadControlInput(f"{name!r} is not a keyword name: a type ({', '.join(KEYWORD_TYPES)}) and a number")
    return match["type"]


def send(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/message/subscribe/send: POST {"touser", "template_id", "page"?, "data", "miniprogram_state"?,
    "lang"?} sends one message of a template the buyer accepted.

    Checked in this order: 40003 touser empty, 40037 a template the Mini Program does not have,
    47003 a keyword value empty or not of its type (errmsg names it), 43101 no acceptance of that
    template left for the buyer. Each accepted send spends one acceptance. → {"errcode": 0, "errmsg": "ok",
    "msgid"}. Mini Programs only.
    """
    app = authenticated_app(sandbox, request)
    body = json_body_of(request)
    touser, template_id = body.get("touser"), body.get("template_id")
    if not isinstance(touser, str) or not touser:
        raise WeChatErrcode(40003)
    with sandbox.lock:
        part = sandbox.part(SubscribeMessages)
        keywords = part.templates.get(app.appid, {}).get(template_id) if isinstance(template_id, str) else None
        if keywords is None:
            raise WeChatErrcode(40037, ERRMSGS[40037])
        values = _data_values(body.get("data"), keywords)
        key = (app.appid, touser, template_id)
        if part.acceptances.get(key, 0) <= 0:
            raise WeChatErrcode(43101, ERRMSGS[43101])
        part.acceptances[key] -= 1
        page = body.get("page")
        part.received.append(
            ReceivedMessage(
                appid=app.appid,
                openid=touser,
                template_id=template_id,
                page=page if isinstance(page, str) else None,
                data=values,
                at=sandbox.now(),
                miniprogram_state=body.get("miniprogram_state"),
                lang=body.get("lang"),
            )
        )
        del part.received[:-MESSAGES_KEPT]
        msgid = len(part.received)
    return json_response({"errcode": 0, "errmsg": "ok", "msgid": msgid})


def _mini_program(sandbox: Sandbox, appid: str | None) -> SandboxApp:
    if appid:
        app = sandbox.registered_app(appid)
    else:
        mini_programs = [app for app in sandbox.apps.values() if app.kind == "mini_program"]
        if len(mini_programs) != 1:
            raise BadControlInput(f"{len(mini_programs)} Mini Programs are registered: say which with appid")
        app = mini_programs[0]
    if app.kind != "mini_program":
        raise BadControlInput(f"{app.appid} is an {app.kind}; subscribe messages are a Mini Program's")
    return app


def add_template(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid"?, "template_id", "keywords": ["thing1", "amount2", ...]}: the Mini Program has this template
    (as added in the MP console, 订阅消息 → 我的模板); its keywords' types come from their names (201)."""
    body = ControlInput(request, allowed={"appid", "template_id", "keywords"})
    template_id = body.text("template_id", required=True)
    keywords = body.raw("keywords", required=True)
    if not isinstance(keywords, list) or not keywords or not all(isinstance(name, str) for name in keywords):
        raise BadControlInput("keywords must be a non-empty list of keyword names such as thing1")
    for name in keywords:
        keyword_type(name)
    with sandbox.lock:
        app = _mini_program(sandbox, body.text("appid"))
        sandbox.part(SubscribeMessages).templates.setdefault(app.appid, {})[template_id] = list(keywords)
    return json_response({"appid": app.appid, "template_id": template_id, "keywords": keywords}, 201)


def record_subscriptions(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid"?, "openid", "results": {template_id: "accept" | "reject" | "ban" | "filter"}}: what the buyer
    chose in wx.requestSubscribeMessage, as WeChat learns it from their phone; each "accept" allows one message (201).
    """
    body = ControlInput(request, allowed={"appid", "openid", "results"})
    openid = body.text("openid", required=True)
    results = body.raw("results", required=True)
    if not isinstance(results, dict) or not results:
        raise BadControlInput("results must be an object of template id to accept, reject, ban or filter")
    if bad := sorted(template for template, result in results.items() if result not in SUBSCRIBE_RESULTS):
        raise BadControlInput(f"results of {', '.join(bad)} must be one of {', '.join(SUBSCRIBE_RESULTS)}")
    with sandbox.lock:
        app = _mini_program(sandbox, body.text("appid"))
        part = sandbox.part(SubscribeMessages)
        if unknown := sorted(set(results) - set(part.templates.get(app.appid, {}))):
            raise BadControlInput(f"the Mini Program has no template {', '.join(unknown)}: add it first")
        for template_id, result in results.items():
            key = (app.appid, openid, template_id)
            part.acceptances[key] = part.acceptances.get(key, 0) + (result == "accept")
        left = {template_id: part.acceptances[(app.appid, openid, template_id)] for template_id in results}
    return json_response({"appid": app.appid, "openid": openid, "acceptances_left": left}, 201)


def list_messages(sandbox: Sandbox, request: Request) -> Response:
    """GET ?openid=&appid=: the subscribe messages each buyer received, oldest first, and the acceptances left.

    {"count", "per_buyer": {openid: [{appid, template_id, page, data: {keyword: value}, at, ...}]},
    "acceptances": [{appid, openid, template_id, left}]}.
    """
    openid, appid = request.args.get("openid"), request.args.get("appid")

    def wanted(of_appid: str, of_openid: str) -> bool:
        return (appid is None or of_appid == appid) and (openid is None or of_openid == openid)

    with sandbox.lock:
        part = sandbox.part(SubscribeMessages)
        messages = [asdict(message) for message in part.received if wanted(message.appid, message.openid)]
        acceptances = [
            {"appid": key[0], "openid": key[1], "template_id": key[2], "left": count}
            for key, count in part.acceptances.items()
            if wanted(key[0], key[1])
        ]
    per_buyer: dict[str, list[dict]] = {}
    for message in messages:
        per_buyer.setdefault(message["openid"], []).append(message)
    return json_response({"count": len(messages), "per_buyer": per_buyer, "acceptances": acceptances})


ROUTES = (
    Route("/cgi-bin/message/subscribe/send", ("POST",), send, app_kinds=MINI_PROGRAMS_ONLY, json_body=True),
    Route("/sandbox/miniprogram/subscribe-templates", ("POST",), add_template),
    Route("/sandbox/miniprogram/subscriptions", ("POST",), record_subscriptions),
    Route("/sandbox/miniprogram/subscribe-messages", ("GET",), list_messages),
)
