"""Subscribe messages over real HTTP: cgi-bin/message/subscribe/send against what the buyer accepted.

Rules from 小程序 "发送订阅消息 subscribeMessage.send" (请求参数; errcode 的合法值: 40003, 40037, 43101,
47003) and "订阅消息参数值内容限制说明" (each keyword type's limit), and wx.requestSubscribeMessage
(success result per template id: accept, reject, ban, filter; each accept allows one message).
"""

import pytest
import requests
from django.conf import settings

from tests.wechat_sandbox.calls import TIMEOUT, assert_wechat_error, mini_program_token
from wechat_sandbox.client import SandboxControlError
from wechat_sandbox.mini_program_subscribe_messages import VALUE_RULES

SEND = "cgi-bin/message/subscribe/send"
TEMPLATE = "tmpl-shipped-0001"
BUYER = "oBuyer00000000000000000000001"
VALUES = {"character_string1": "202612051914001234567890", "thing2": "顺丰速运", "time3": "2026年12月5日 19:14"}


def send(url: str, *, touser: str = BUYER, template_id: str = TEMPLATE, values: dict | None = None) -> dict:
    data = {name: {"value": value} for name, value in (VALUES if values is None else values).items()}
    body = {"touser": touser, "template_id": template_id, "page": "pages/order/detail?order_no=1", "data": data}
    return requests.post(
        url + SEND, params={"access_token": mini_program_token(url)}, json=body, timeout=TIMEOUT
    ).json()


@pytest.fixture
def template(sandbox):
    sandbox.add_subscribe_template(TEMPLATE, list(VALUES))
    return TEMPLATE


def test_each_acceptance_allows_one_message_then_43101(url, sandbox, template):
    sandbox.subscribe(BUYER, {TEMPLATE: "accept"})

    answer = send(url)

    assert answer["errcode"] == 0 and answer["errmsg"] == "ok" and answer["msgid"]
    assert_wechat_error(send(url), 43101, "user refuse to accept the msg")
    [message] = sandbox.subscribe_messages(BUYER)["per_buyer"][BUYER]
    assert message["template_id"] == TEMPLATE and message["data"] == VALUES
    assert message["page"] == "pages/order/detail?order_no=1"


def test_two_acceptances_allow_two_messages_and_a_rejection_none(url, sandbox, template):
    sandbox.subscribe(BUYER, {TEMPLATE: "accept"})
    sandbox.subscribe(BUYER, {TEMPLATE: "accept"})
    sandbox.subscribe(BUYER, {TEMPLATE: "reject"})

    assert [send(url)["errcode"], send(url)["errcode"], send(url)["errcode"]] == [0, 0, 43101]
    assert sandbox.subscribe_messages(BUYER)["count"] == 2


def test_a_buyer_who_accepted_nothing_gets_43101(url, sandbox, template):
    assert_wechat_error(send(url), 43101, "user refuse to accept the msg")
    assert sandbox.subscribe_messages()["count"] == 0


def test_an_unknown_template_gets_40037_and_an_empty_openid_40003(url, sandbox, template):
    sandbox.subscribe(BUYER, {TEMPLATE: "accept"})

    assert_wechat_error(send(url, template_id="tmpl-unknown"), 40037, "invalid template_id")
    assert_wechat_error(send(url, touser=""), 40003, "invalid openid")
    assert send(url)["errcode"] == 0  # the refused calls spent no acceptance


@pytest.mark.parametrize(
    "keyword, value, errmsg",
    [
        ("thing2", "一二三四五六七八九十一二三四五六七八九十一", "argument invalid! data.thing2.value invalid"),
        ("thing2", "  ", "argument invalid! data.thing2.value is empty"),
        ("character_string1", "中文订单号", "argument invalid! data.character_string1.value invalid"),
        ("time3", "昨天", "argument invalid! data.time3.value invalid"),
    ],
    ids=["thing-over-20", "empty", "chinese-in-character-string", "not-a-time"],
)
def test_a_value_breaking_its_keyword_type_gets_47003_naming_it(url, sandbox, template, keyword, value, errmsg):
    sandbox.subscribe(BUYER, {TEMPLATE: "accept"})

    assert_wechat_error(send(url, values={**VALUES, keyword: value}), 47003, errmsg)
    assert send(url)["errcode"] == 0  # the acceptance is still there


def test_a_keyword_of_the_template_left_out_gets_47003(url, sandbox, template):
    sandbox.subscribe(BUYER, {TEMPLATE: "accept"})
    values = dict(VALUES)
    del values["thing2"]

    assert_wechat_error(send(url, values=values), 47003, "argument invalid! data.thing2.value is empty")


@pytest.mark.parametrize(
    "keyword_type, fits, breaks",
    [
        ("number", "339208499.5", "12a"),
        ("letter", "ABC", "A1"),
        ("symbol", "%+", "%%%%%%"),
        ("amount", "¥39.90", "39.901元"),
        ("amount", "12345678.9元", "123456789.00"),
        ("date", "2019年10月1日", "10月1日"),
        ("time", "15:01~16:00", "3pm"),
        ("phone_number", "+86-0766-66888866", "+86-0766-668888661234"),
        ("car_number", "粤A8Z888挂", "粤A8Z88挂挂"),
        ("name", "欧阳娜娜", "一二三四五六七八九十一"),
        ("phrase", "配送中", "配送中了吗啊"),
    ],
)
def test_value_rules_follow_the_documented_limits(keyword_type, fits, breaks):
    """订阅消息参数值内容限制说明, type by type."""
    assert VALUE_RULES[keyword_type](fits)
    assert not VALUE_RULES[keyword_type](breaks)


def test_an_official_account_token_gets_48001(url, sandbox, template):
    from tests.wechat_sandbox.calls import fetch_token

    token = fetch_token(url)["access_token"]
    answer = requests.post(url + SEND, params={"access_token": token}, json={"touser": BUYER}, timeout=TIMEOUT).json()

    assert_wechat_error(answer, 48001, "api unauthorized")


def test_the_control_api_refuses_unknown_templates_results_and_keyword_names(sandbox, template):
    with pytest.raises(SandboxControlError, match="no template"):
        sandbox.subscribe(BUYER, {"tmpl-unknown": "accept"})
    with pytest.raises(SandboxControlError, match="must be one of"):
        sandbox.subscribe(BUYER, {TEMPLATE: "maybe"})
    with pytest.raises(SandboxControlError, match="not a keyword name"):
        sandbox.add_subscribe_template("tmpl-2", ["colour1"])


def test_messages_are_listed_per_buyer_and_survive_a_snapshot(url, sandbox, template):
    other = "oBuyer00000000000000000000002"
    sandbox.subscribe(BUYER, {TEMPLATE: "accept"})
    sandbox.subscribe(other, {TEMPLATE: "accept"})
    send(url)
    send(url, touser=other)
    snapshot = sandbox.state()

    sandbox.reset()
    assert sandbox.subscribe_messages()["count"] == 0
    sandbox.restore_state(snapshot)

    listed = sandbox.subscribe_messages()
    assert listed["count"] == 2 and set(listed["per_buyer"]) == {BUYER, other}
    assert {entry["left"] for entry in listed["acceptances"]} == {0}
    assert settings.WECHAT_MINI_PROGRAM_APPID in {message["appid"] for message in listed["per_buyer"][BUYER]}
