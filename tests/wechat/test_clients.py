"""wechatpy through our client: base URL, token refresh on 40001/42001, errors split transient/permanent."""

import json

import pytest
import requests
from django.conf import settings

from wechat.clients import EnvironmentOnceSession, SharedTokenClient, official_account_client
from wechat.errors import (
    WeChatMisconfigured,
    WeChatPermanentError,
    WeChatQuotaExhausted,
    WeChatRateLimited,
    WeChatTimeout,
    WeChatTransientError,
)
from wechat.tokens import access_token_forget
from wechat_sandbox.redaction import fingerprint

IPS = "/cgi-bin/getcallbackip"


def test_calls_reach_the_configured_base_url_with_the_shared_token(sandbox):
    client = official_account_client()

    assert client.misc.get_wechat_ips() == ["127.0.0.1"]

    request = sandbox.received(IPS)[0]
    assert request["query"]["access_token"] == fingerprint(client.token_store.get())  # the log hides tokens


@pytest.mark.parametrize("how", ["expired", "invalid"])
def test_a_refused_token_is_refetched_once_and_the_call_retried(sandbox, how):
    client = official_account_client()
    client.misc.get_wechat_ips()
    old_token = client.token_store.get()
    if how == "expired":
        sandbox.expire_tokens(client.appid)  # the next call answers 42001
    else:
        sandbox.add_fault(IPS, errcode=40001)

    assert client.misc.get_wechat_ips() == ["127.0.0.1"]

    calls = sandbox.received(IPS)
    assert [call["errcode"] for call in calls] == [None, 42001 if how == "expired" else 40001, None]
    assert calls[2]["query"]["access_token"] != old_token
    # An expired token is replaced on a plain request; a refused one that stable_token
    # still hands back needs force_refresh.
    forced = [json.loads(call["body"])["force_refresh"] for call in sandbox.received("/cgi-bin/stable_token")]
    assert forced == ([False, False] if how == "expired" else [False, False, True])


def test_a_token_refused_twice_is_not_retried_forever(sandbox):
    client = official_account_client()
    sandbox.add_fault(IPS, errcode=40001, times=5)

    with pytest.raises(WeChatPermanentError) as raised:
        client.misc.get_wechat_ips()

    assert raised.value.errcode == 40001
    assert len(sandbox.received(IPS)) == 2


@pytest.mark.parametrize(
    "fault, error_class, errcode",
    [
        ({"errcode": -1}, WeChatTransientError, -1),
        ({"errcode": 45009}, WeChatQuotaExhausted, 45009),
        ({"errcode": 45011}, WeChatRateLimited, 45011),
        ({"http_status": 502}, WeChatTransientError, None),
        ({"drop": True}, WeChatTransientError, None),
    ],
)
def test_busy_limited_and_broken_answers_are_transient(sandbox, fault, error_class, errcode):
    client = official_account_client()
    client.token_store.get()
    sandbox.add_fault(IPS, **fault)

    with pytest.raises(WeChatTransientError) as raised:
        client.misc.get_wechat_ips()

    assert type(raised.value) is error_class
    assert raised.value.errcode == errcode


@pytest.mark.parametrize("errcode", [40164, 48001])
def test_an_ip_off_the_allowlist_or_an_unauthorised_api_is_a_misconfiguration(sandbox, errcode):
    client = official_account_client()
    client.token_store.get()
    sandbox.add_fault(IPS, errcode=errcode)

    with pytest.raises(WeChatMisconfigured) as raised:
        client.misc.get_wechat_ips()

    assert raised.value.errcode == errcode


def test_a_slow_answer_times_out_as_transient(sandbox, settings):
    settings.WECHAT_HTTP_TIMEOUT = 0.5
    client = official_account_client()
    client.token_store.get()
    sandbox.add_fault(IPS, delay=3)

    # Only requests' own read timeout raises this, so no wall-clock bound is needed.
    with pytest.raises(WeChatTimeout):
        client.misc.get_wechat_ips()


def test_a_wrong_secret_is_a_misconfiguration(sandbox, settings):
    settings.WECHAT_OFFICIAL_ACCOUNT_SECRET = "not-the-secret"

    with pytest.raises(WeChatMisconfigured) as raised:
        official_account_client().misc.get_wechat_ips()

    assert raised.value.errcode == 40125
    assert sandbox.received(IPS) == []


def test_busy_token_endpoint_is_transient(sandbox):
    sandbox.add_fault("/cgi-bin/stable_token", errcode=-1)

    with pytest.raises(WeChatTransientError):
        official_account_client().token_store.get()


# --- a client reusing the shared token for a while (a follower sync's threads) -----------------


def reusing_client(seconds: float) -> SharedTokenClient:
    """A client of its own (not the thread's kept one), reusing the token it read for `seconds`."""
    client = SharedTokenClient(
        appid=settings.WECHAT_OFFICIAL_ACCOUNT_APPID,
        secret=settings.WECHAT_OFFICIAL_ACCOUNT_SECRET,
        api_base_url=settings.WECHAT_API_BASE_URL,
        timeout=settings.WECHAT_HTTP_TIMEOUT,
        token_endpoint=settings.WECHAT_TOKEN_ENDPOINT,
    )
    client.token_reuse_seconds = seconds
    return client


@pytest.mark.parametrize("seconds", [0, 60])
def test_a_client_reads_the_shared_token_for_each_call_unless_it_reuses_it(sandbox, seconds):
    client = reusing_client(seconds)
    client.misc.get_wechat_ips()
    access_token_forget(appid=client.appid)  # the store no longer has it: reading it again fetches it

    client.misc.get_wechat_ips()

    assert [call["errcode"] for call in sandbox.received(IPS)] == [None, None]
    assert len(sandbox.received("/cgi-bin/stable_token")) == (1 if seconds else 2)


def test_a_reused_token_replaced_meanwhile_is_refreshed_through_the_store_and_reused_after(sandbox):
    client = reusing_client(60)
    client.misc.get_wechat_ips()
    sandbox.expire_tokens(client.appid)  # as when another process's refresh replaced it

    assert client.misc.get_wechat_ips() == ["127.0.0.1"]
    assert client.misc.get_wechat_ips() == ["127.0.0.1"]

    calls = sandbox.received(IPS)
    assert [call["errcode"] for call in calls] == [None, 42001, None, None]
    refreshed = fingerprint(client.token_store.get())
    assert calls[3]["query"]["access_token"] == calls[2]["query"]["access_token"] == refreshed


PREPARED_CASES = [
    ("POST", "http://127.0.0.1:8900/cgi-bin/user/info/batchget", {"access_token": "T"}, '{"a": "粉丝"}'.encode()),
    ("POST", "http://127.0.0.1:8900/cgi-bin/user/info/batchget", {"access_token": "T"}, b'{"b": 2, "c": [3]}'),
    ("POST", "http://127.0.0.1:8900/cgi-bin/menu/delete", {"access_token": "T"}, {}),
    ("GET", "http://127.0.0.1:8900/cgi-bin/user/get", {"next_openid": None, "access_token": "T"}, {}),
    ("GET", "https://api.weixin.qq.com/cgi-bin/user/get?lang=zh_CN", {"access_token": "T y/é+"}, None),
]


def _prepared_as_sent(prepared) -> tuple:
    return prepared.method, prepared.url, dict(prepared.headers), prepared.body


@pytest.mark.parametrize(("method", "url", "params", "data"), PREPARED_CASES)
def test_a_request_prepared_from_a_kept_one_is_what_requests_prepares(method, url, params, data):
    ours = EnvironmentOnceSession()
    expected = _prepared_as_sent(
        requests.Session().prepare_request(requests.Request(method, url, params=params, data=data))
    )

    for _ in range(2):  # prepared, then copied from the kept one
        prepared = ours.prepare_request(requests.Request(method, url, params=params, data=data))
        assert _prepared_as_sent(prepared) == expected
    assert len(ours._prepared) == 1


def test_kept_requests_are_copies_with_their_own_body():
    ours = EnvironmentOnceSession()
    url, params = PREPARED_CASES[0][1:3]

    first = ours.prepare_request(requests.Request("POST", url, params=params, data=b"[1]"))
    second = ours.prepare_request(requests.Request("POST", url, params=params, data=b"[1, 2]"))

    assert (first.body, first.headers["Content-Length"]) == (b"[1]", "3")
    assert (second.body, second.headers["Content-Length"]) == (b"[1, 2]", "6")


def test_a_session_holding_cookies_or_asked_for_more_prepares_each_request_as_requests_does():
    ours, plain = EnvironmentOnceSession(), requests.Session()
    url, params = PREPARED_CASES[0][1:3]
    for session in (ours, plain):
        session.cookies.set("wxuin", "1", domain="127.0.0.1")

    for extra in [{}, {"headers": {"X-Extra": "1"}}, {"json": {"a": 1}}, {"data": {"form": "1"}}]:
        request = {"method": "POST", "url": url, "params": params, **extra}
        prepared = ours.prepare_request(requests.Request(**request))
        assert _prepared_as_sent(prepared) == _prepared_as_sent(plain.prepare_request(requests.Request(**request)))
        assert prepared.headers["Cookie"] == "wxuin=1"
    assert ours._prepared == {}
