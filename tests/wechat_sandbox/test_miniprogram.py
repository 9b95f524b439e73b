"""Mini Program login over real HTTP: sns/jscode2session and wxa/checksession.

Rules from "小程序登录凭证校验 code2Session" (说明, 错误码: 40029, 45011, 40226 "code blocked", -1),
40163 as WeChat answers a reused code, "检验登录态 checkSessionKey" (请求参数, 错误码 87009: only the
latest session_key is valid), and 公众号 "全局返回码说明" for 48001 and 41xxx.
"""

import base64
import hashlib
import hmac

import pytest
import requests
from django.conf import settings
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from tests.wechat_sandbox.calls import (
    CHECK_SESSION,
    TIMEOUT,
    assert_wechat_error,
    fetch_token,
    login,
    mini_program_token,
)
from wechat_sandbox.client import SandboxClient


def test_login_with_a_minted_code(url, sandbox):
    minted = sandbox.mint_login_code()

    session = login(url, minted["code"])

    assert minted["appid"] == settings.WECHAT_MINI_PROGRAM_APPID
    assert minted["openid"].startswith("o") and len(minted["openid"]) == 28
    assert set(session) == {"openid", "session_key"}
    assert session["openid"] == minted["openid"]
    assert len(base64.b64decode(session["session_key"], validate=True)) == 16


def test_login_gives_the_unionid_the_code_was_minted_with(url, sandbox):
    """code2Session, 返回参数: unionid only when the user has one."""
    minted = sandbox.mint_login_code(openid="oKnownUser000000000000000000", unionid="o6_union")

    session = login(url, minted["code"], access_token="ignored-like-wechat-does")

    assert session["openid"] == "oKnownUser000000000000000000"
    assert session["unionid"] == "o6_union"


def test_a_reused_code_answers_code_been_used(url, sandbox):
    """小程序登录, 说明: a code works once; WeChat answers a reused one 40163 "code been used" (not in
    code2Session's 错误码 table; WeChat's answer as quoted on 微信开放社区: "code been used, rid: 680a9de1-...")."""
    code = sandbox.mint_login_code()["code"]
    assert "openid" in login(url, code)

    assert_wechat_error(login(url, code), 40163, "code been used")
    assert_wechat_error(login(url, code), 40163, "code been used")


def test_a_used_code_is_invalid_once_it_would_have_expired(url, sandbox):
    code = sandbox.mint_login_code()["code"]
    login(url, code)
    sandbox.advance_clock(300)

    assert_wechat_error(login(url, code), 40029, "invalid code")


def test_an_unknown_code_is_invalid(url):
    """code2Session, 错误码: 40029 js_code 无效."""
    assert_wechat_error(login(url, "0" + "x" * 31), 40029, "invalid code")


def test_a_code_expires_after_five_minutes(url, sandbox):
    """小程序登录, 说明: a code is valid for 5 minutes."""
    fresh, stale = sandbox.mint_login_code()["code"], sandbox.mint_login_code()["code"]
    sandbox.advance_clock(299)
    assert "openid" in login(url, fresh)

    sandbox.advance_clock(1)
    assert login(url, stale)["errcode"] == 40029


def test_a_code_works_only_for_its_own_app(own_sandbox):
    client = SandboxClient(own_sandbox.url)
    client.register_app("wxothermini", "other-secret", "mini_program")
    code = client.mint_login_code(appid="wxothermini")["code"]

    assert login(own_sandbox.url, code, appid="wxmini", secret="mini-secret")["errcode"] == 40029
    assert "openid" in login(own_sandbox.url, code, appid="wxothermini", secret="other-secret")
    # Used by its own app, it is "used" there and still merely invalid for the other.
    assert login(own_sandbox.url, code, appid="wxmini", secret="mini-secret")["errcode"] == 40029
    assert login(own_sandbox.url, code, appid="wxothermini", secret="other-secret")["errcode"] == 40163


def test_a_blocked_user_cannot_log_in(url, sandbox):
    """code2Session, 错误码: 40226 "code blocked" (高风险等级用户, 小程序登录拦截)."""
    minted = sandbox.mint_login_code()
    sandbox.block_user(minted["openid"])

    assert_wechat_error(login(url, minted["code"]), 40226, "code blocked")


def test_more_than_100_logins_a_minute_for_one_user_are_refused(url, sandbox):
    """code2Session, 错误码: 45011 API 调用太频繁 (100 a minute per user)."""
    openid = sandbox.mint_login_code()["openid"]
    answers = [login(url, sandbox.mint_login_code(openid=openid)["code"]) for _ in range(101)]

    assert all("openid" in answer for answer in answers[:100])
    assert answers[100]["errcode"] == 45011
    assert "openid" in login(url, sandbox.mint_login_code()["code"])  # other users are unaffected
    sandbox.advance_clock(60)
    assert "openid" in login(url, sandbox.mint_login_code(openid=openid)["code"])


@pytest.mark.parametrize(
    "params, errcode",
    [
        pytest.param({"secret": "not-the-secret"}, 40125, id="40125 invalid appsecret"),
        pytest.param({"appid": "wxnotregistered00"}, 40013, id="40013 invalid appid"),
        pytest.param({"appid": ""}, 41002, id="41002 appid missing"),
        pytest.param({"secret": ""}, 41004, id="41004 appsecret missing"),
        pytest.param({"grant_type": "client_credential"}, 40002, id="40002 invalid grant_type"),
        pytest.param({"js_code": ""}, 41008, id="41008 missing code"),
        # code2Session, 请求参数: appid is "小程序 appId"; an Official Account's is not one. No WeChat page states
        # the answer; 微信开放社区 threads report 40013 "invalid appid, rid: ..." for an appid that getAccessToken
        # accepts, which is what the sandbox answers.
        pytest.param(
            {"appid": settings.WECHAT_OFFICIAL_ACCOUNT_APPID, "secret": settings.WECHAT_OFFICIAL_ACCOUNT_SECRET},
            40013,
            id="40013 an Official Account's appid and secret",
        ),
    ],
)
def test_login_request_errors(url, sandbox, params, errcode):
    code = sandbox.mint_login_code()["code"]

    assert login(url, code, **params)["errcode"] == errcode
    assert "openid" in login(url, code)  # a refused call does not use the code up


# --- wxa/checksession -------------------------------------------------------------


def signature(session_key: str) -> str:
    """checkSessionKey, 请求参数: signature = hmac_sha256(session_key, "")."""
    return hmac.new(session_key.encode(), b"", hashlib.sha256).hexdigest()


def check_session(url: str, token: str, openid: str, signature: str, sig_method: str = "hmac_sha256") -> dict:
    params = {"access_token": token, "openid": openid, "signature": signature, "sig_method": sig_method}
    return requests.get(url + CHECK_SESSION, params=params, timeout=TIMEOUT).json()


def test_checksession_accepts_the_latest_session_key_only(url, sandbox):
    token = mini_program_token(url)
    openid = sandbox.mint_login_code()["openid"]
    first = login(url, sandbox.mint_login_code(openid=openid)["code"])["session_key"]

    assert check_session(url, token, openid, signature(first)) == {"errcode": 0, "errmsg": "ok"}

    second = login(url, sandbox.mint_login_code(openid=openid)["code"])["session_key"]
    assert check_session(url, token, openid, signature(second)) == {"errcode": 0, "errmsg": "ok"}
    assert_wechat_error(check_session(url, token, openid, signature(first)), 87009, "invalid signature")


@pytest.mark.parametrize("how", ["wrong signature", "wrong method", "unknown user"])
def test_checksession_refuses_a_wrong_signature(url, sandbox, how):
    token = mini_program_token(url)
    minted = sandbox.mint_login_code()
    key = login(url, minted["code"])["session_key"]
    openid = "oSomeoneElse0000000000000000" if how == "unknown user" else minted["openid"]
    sign = signature(key + "x") if how == "wrong signature" else signature(key)

    answer = check_session(url, token, openid, sign, "md5" if how == "wrong method" else "hmac_sha256")

    assert_wechat_error(answer, 87009, "invalid signature")


def test_checksession_needs_an_openid(url, sandbox):
    assert_wechat_error(check_session(url, mini_program_token(url), "", "x"), 41009, "missing openid")


def test_an_official_accounts_token_is_unauthorized_on_mini_program_apis(url, sandbox):
    """全局返回码说明: 48001 api unauthorized — the app has no right to this API (wxa/* is for Mini Programs)."""
    token = fetch_token(url)["access_token"]

    assert_wechat_error(check_session(url, token, "oAnyone", "x"), 48001, "api unauthorized")


# --- wechatpy, with only its host changed --------------------------------------------


def test_wechatpy_code_to_session(url, sandbox):
    client = WeChatClient(settings.WECHAT_MINI_PROGRAM_APPID, settings.WECHAT_MINI_PROGRAM_SECRET, access_token="x")
    client.wxa.API_BASE_URL = url
    minted = sandbox.mint_login_code(unionid="o6_union")

    session = client.wxa.code_to_session(minted["code"])

    assert session["openid"] == minted["openid"]
    assert session["unionid"] == "o6_union"
    with pytest.raises(WeChatClientException) as refused:
        client.wxa.code_to_session(minted["code"])
    assert refused.value.errcode == 40163
    assert refused.value.errmsg.startswith("code been used, rid: ")
