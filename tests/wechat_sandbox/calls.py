"""WeChat calls the sandbox tests make over HTTP, and how they check WeChat's error answers."""

import re

import requests
from django.conf import settings

TOKEN = "cgi-bin/token"
STABLE_TOKEN = "cgi-bin/stable_token"
IPS = "cgi-bin/getcallbackip"
LOGIN = "sns/jscode2session"
CHECK_SESSION = "wxa/checksession"
TIMEOUT = 10
# 查询rid信息 getRidInfo, 请求示例: "61725984-6126f6f9-040f19c4"
RID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}")


def assert_wechat_error(answer: dict, errcode: int, errmsg: str) -> None:
    """WeChat's error answer: the errcode, WeChat's errmsg, then ", rid: <request id>" (never match errmsg exactly)."""
    assert set(answer) == {"errcode", "errmsg"}, answer
    assert answer["errcode"] == errcode, answer
    message, separator, rid = answer["errmsg"].rpartition(", rid: ")
    assert separator and message == errmsg, answer
    assert RID.fullmatch(rid), answer


def fetch_token(url: str, *, appid: str | None = None, secret: str | None = None, **params) -> dict:
    params = {
        "grant_type": "client_credential",
        "appid": settings.WECHAT_OFFICIAL_ACCOUNT_APPID if appid is None else appid,
        "secret": settings.WECHAT_OFFICIAL_ACCOUNT_SECRET if secret is None else secret,
        **params,
    }
    return requests.get(url + TOKEN, params={k: v for k, v in params.items() if v != ""}, timeout=TIMEOUT).json()


def mini_program_token(url: str) -> str:
    return fetch_token(url, appid=settings.WECHAT_MINI_PROGRAM_APPID, secret=settings.WECHAT_MINI_PROGRAM_SECRET)[
        "access_token"
    ]


def fetch_stable_token(url: str, *, force_refresh: bool = False, **fields) -> dict:
    body = {
        "grant_type": "client_credential",
        "appid": settings.WECHAT_OFFICIAL_ACCOUNT_APPID,
        "secret": settings.WECHAT_OFFICIAL_ACCOUNT_SECRET,
        "force_refresh": force_refresh,
        **fields,
    }
    return requests.post(url + STABLE_TOKEN, json=body, timeout=TIMEOUT).json()


def call_with_token(url: str, token: str | None) -> dict:
    params = {"access_token": token} if token is not None else {}
    return requests.get(url + IPS, params=params, timeout=TIMEOUT).json()


def works(url: str, token: str) -> bool:
    return call_with_token(url, token) == {"ip_list": ["127.0.0.1"]}


def login(url: str, code: str, **params) -> dict:
    query = {
        "appid": settings.WECHAT_MINI_PROGRAM_APPID,
        "secret": settings.WECHAT_MINI_PROGRAM_SECRET,
        "js_code": code,
        "grant_type": "authorization_code",
        **params,
    }
    return requests.get(url + LOGIN, params=query, timeout=TIMEOUT).json()
