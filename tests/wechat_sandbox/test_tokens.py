"""Access tokens over real HTTP: cgi-bin/token, cgi-bin/stable_token and the token check.

Rules from "获取接口调用凭据 getAccessToken" and "获取稳定版接口调用凭据 getStableAccessToken"
(说明 and 错误码), and 公众号 "全局返回码说明" for the token check's errcodes.
"""

import threading

import pytest
import requests
from django.conf import settings

from tests.wechat_sandbox.calls import (
    STABLE_TOKEN,
    TIMEOUT,
    assert_wechat_error,
    call_with_token,
    fetch_stable_token,
    fetch_token,
    works,
)

# --- cgi-bin/token ------------------------------------------------------------


def test_a_token_is_valid_for_two_hours(url, sandbox):
    """getAccessToken, 返回参数: expires_in 7200."""
    answer = fetch_token(url)

    assert answer["expires_in"] == 7200
    assert "errcode" not in answer
    assert works(url, answer["access_token"])
    sandbox.advance_clock(7199)
    assert works(url, answer["access_token"])
    sandbox.advance_clock(1)
    assert_wechat_error(call_with_token(url, answer["access_token"]), 42001, "access_token expired")


def test_a_new_token_leaves_the_previous_one_five_minutes(url, sandbox):
    """getAccessToken, 说明: a new token leaves the old one valid for 5 more minutes."""
    old = fetch_token(url)["access_token"]
    new = fetch_token(url)["access_token"]

    assert new != old
    sandbox.advance_clock(299)
    assert works(url, old)
    sandbox.advance_clock(1)
    assert_wechat_error(call_with_token(url, old), 40001, "invalid credential, access_token is invalid or not latest")
    assert works(url, new)


def test_another_fetch_does_not_extend_an_old_tokens_five_minutes(url, sandbox):
    oldest = fetch_token(url)["access_token"]
    fetch_token(url)
    sandbox.advance_clock(200)
    fetch_token(url)
    sandbox.advance_clock(100)

    assert call_with_token(url, oldest)["errcode"] == 40001


@pytest.mark.parametrize(
    "params, errcode, errmsg",
    [
        pytest.param({"grant_type": "authorization_code"}, 40002, "invalid grant_type", id="40002 错误码"),
        pytest.param({"grant_type": ""}, 40002, "invalid grant_type", id="40002 missing grant_type"),
        pytest.param({"appid": ""}, 41002, "appid missing", id="41002 全局返回码"),
        pytest.param({"secret": ""}, 41004, "appsecret missing", id="41004 全局返回码"),
        pytest.param({"appid": "wxnotregistered00"}, 40013, "invalid appid", id="40013 getAccessToken 错误码"),
        pytest.param({"secret": "not-the-secret"}, 40125, "invalid appsecret", id="40125 getAccessToken 错误码"),
    ],
)
def test_token_request_errors(url, params, errcode, errmsg):
    assert_wechat_error(fetch_token(url, **params), errcode, errmsg)


# --- cgi-bin/stable_token ----------------------------------------------------


def test_stable_token_is_the_same_while_it_has_five_minutes_left(url, sandbox):
    """getStableAccessToken, 说明: force_refresh false gives the same token while valid, a new one in its last 5 min."""
    first = fetch_stable_token(url)
    sandbox.advance_clock(7200 - 301)
    again = fetch_stable_token(url)

    assert first["expires_in"] == 7200
    assert again["access_token"] == first["access_token"]
    assert 299 < again["expires_in"] <= 301  # what is left of its life, not a fresh 7200

    sandbox.advance_clock(2)
    renewed = fetch_stable_token(url)

    assert renewed["access_token"] != first["access_token"]
    assert renewed["expires_in"] == 7200
    assert works(url, first["access_token"])  # the old one lives out its own time
    sandbox.advance_clock(300)
    assert call_with_token(url, first["access_token"])["errcode"] == 42001
    assert works(url, renewed["access_token"])


def test_force_refresh_retires_the_previous_stable_token_at_once(url):
    """getStableAccessToken, 说明: force_refresh true invalidates the previous token at once."""
    old = fetch_stable_token(url)["access_token"]

    new = fetch_stable_token(url, force_refresh=True)

    assert new["access_token"] != old
    assert new["expires_in"] == 7200
    assert call_with_token(url, old)["errcode"] == 40001
    assert works(url, new["access_token"])
    assert fetch_stable_token(url)["access_token"] == new["access_token"]


def test_force_refresh_is_limited_to_one_in_30_seconds_and_20_a_day(url, sandbox):
    """getStableAccessToken, 说明: forced refreshes at most 20 a day, 30 s apart; past that 45009."""
    assert "access_token" in fetch_stable_token(url, force_refresh=True)
    assert_wechat_error(fetch_stable_token(url, force_refresh=True), 45009, "reach max api daily quota limit")

    for _ in range(19):
        sandbox.advance_clock(30)
        assert "access_token" in fetch_stable_token(url, force_refresh=True)
    sandbox.advance_clock(30)
    assert fetch_stable_token(url, force_refresh=True)["errcode"] == 45009
    assert "access_token" in fetch_stable_token(url)  # the refused refresh left the current token usable

    sandbox.advance_clock(86400)
    assert "access_token" in fetch_stable_token(url, force_refresh=True)


def test_stable_and_classic_tokens_never_retire_each_other(url, sandbox):
    """getStableAccessToken, 说明: the stable and the classic token are independent."""
    stable = fetch_stable_token(url)["access_token"]
    classic = fetch_token(url)["access_token"]
    fetch_token(url)
    sandbox.advance_clock(301)

    assert works(url, stable)
    assert fetch_stable_token(url)["access_token"] == stable

    newest_classic = fetch_token(url)["access_token"]
    fetch_stable_token(url, force_refresh=True)

    assert works(url, newest_classic)
    assert call_with_token(url, classic)["errcode"] == 40001


@pytest.mark.parametrize(
    "body, errcode",
    [
        pytest.param(b"", 44002, id="44002 empty post data"),
        pytest.param(b"  \n", 44002, id="44002 blank post data"),
        pytest.param(b"{not json", 47001, id="47001 not JSON"),
        pytest.param(b"[]", 47001, id="47001 a list"),
        pytest.param(b"7", 47001, id="47001 a number"),
        pytest.param(b"[" * 5000 + b"]" * 5000, 47001, id="47001 nested past any parser"),
        pytest.param(b'{"grant_type": "client_credential", "force_refresh": "yes"}', 47001, id="text force_refresh"),
        pytest.param(b'{"grant_type": "client_credential", "appid": ["wx"], "secret": "b"}', 47001, id="list appid"),
        pytest.param(b'{"grant_type": "client_credential", "appid": {"a": 1}, "secret": "b"}', 47001, id="dict appid"),
        pytest.param(b'{"grant_type": "client_credential", "appid": 12, "secret": "b"}', 47001, id="number appid"),
        pytest.param(b'{"grant_type": "client_credential", "appid": "a", "secret": [1]}', 47001, id="list secret"),
        pytest.param(b'{"grant_type": ["client_credential"], "appid": "a", "secret": "b"}', 47001, id="list grant"),
        pytest.param(b'{"grant_type": "client_credential", "force_refresh": {}}', 47001, id="object force_refresh"),
        pytest.param(b'{"grant_type": "password", "appid": "a", "secret": "b"}', 40002, id="40002"),
        pytest.param(b'{"grant_type": "client_credential", "secret": "b"}', 41002, id="41002 no appid"),
        pytest.param(b'{"grant_type": "client_credential", "appid": "wx", "secret": ""}', 41004, id="41004 no secret"),
        pytest.param(b'{"grant_type": "client_credential", "appid": "wxnotregistered00", "secret": "b"}', 40013),
    ],
)
def test_stable_token_body_errors(url, body, errcode):
    """全局返回码说明: 44002 empty post data, 47001 data format error (解析 JSON/XML 内容错误); never a 500."""
    answer = requests.post(url + STABLE_TOKEN, data=body, timeout=TIMEOUT)

    assert answer.status_code == 200  # WeChat reports errors in the body
    assert answer.json()["errcode"] == errcode


def test_stable_token_with_a_wrong_secret(url):
    assert_wechat_error(fetch_stable_token(url, secret="not-the-secret"), 40125, "invalid appsecret")


def test_concurrent_stable_token_requests_get_one_token(url):
    tokens: list[str] = []
    barrier = threading.Barrier(12)

    def ask():
        barrier.wait()
        tokens.append(fetch_stable_token(url)["access_token"])

    threads = [threading.Thread(target=ask) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)

    assert len(tokens) == 12
    assert len(set(tokens)) == 1


# --- the access token check ----------------------------------------------------


@pytest.mark.parametrize(
    "token, errcode, errmsg",
    [
        pytest.param(None, 41001, "access_token missing", id="41001 全局返回码"),
        pytest.param("", 41001, "access_token missing", id="41001 empty"),
        pytest.param("not a token!", 40014, "invalid access_token", id="40014 全局返回码"),
        pytest.param("A" * 136, 40001, "invalid credential, access_token is invalid or not latest", id="40001"),
    ],
)
def test_token_check_refuses_missing_malformed_and_unknown_tokens(url, token, errcode, errmsg):
    assert_wechat_error(call_with_token(url, token), errcode, errmsg)


def test_expired_tokens_get_42001(url, sandbox):
    classic = fetch_token(url)["access_token"]
    stable = fetch_stable_token(url)["access_token"]
    other_app = fetch_token(url, appid=settings.WECHAT_MINI_PROGRAM_APPID, secret=settings.WECHAT_MINI_PROGRAM_SECRET)[
        "access_token"
    ]

    sandbox.expire_tokens(settings.WECHAT_OFFICIAL_ACCOUNT_APPID)

    assert_wechat_error(call_with_token(url, classic), 42001, "access_token expired")
    assert call_with_token(url, stable)["errcode"] == 42001
    assert works(url, other_app)
    assert fetch_stable_token(url)["access_token"] != stable  # a dead stable token is replaced
