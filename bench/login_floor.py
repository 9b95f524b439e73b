"""The floors of a login: what the stack alone costs, with none of the product's login code.

Mounted by bench/baseline_urls.py, so each answers through the same gunicorn, settings and middleware
as POST /api/v1/auth/login, under /api/ so the API's middleware treats it as it treats the login:
- login_floor_wechat: the `jscode2session` call to WeChat (the sandbox) through wechatpy, which the
  product must use, and a small JSON answer;
- login_floor_stores: the same plus one PostgreSQL statement (a row upserted by openid, its commit
  not waiting for the disk, as the product's login statement) and one Redis command (an INCR, as a
  throttle's count): the fewest round trips any login can make.
A login that cost no more than these would still cost what they cost: bench/login.py prints their
ratios to the bare round trip beside the product's.
"""

import json
import threading

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_redis import get_redis_connection
from wechatpy import WeChatClient

WECHAT_API_ROOT = "https://api.weixin.qq.com/"
# Made by bench/login.py in the bench's own database: the least a login must write, one row per user.
FLOOR_TABLE = "bench_login_floor"
FLOOR_TABLE_SQL = f"CREATE TABLE IF NOT EXISTS {FLOOR_TABLE} (openid text PRIMARY KEY, session_key text, logins int)"
FLOOR_UPSERT_SQL = f"""
    INSERT INTO {FLOOR_TABLE} (openid, session_key, logins) VALUES (%s, %s, 1)
    ON CONFLICT (openid) DO UPDATE SET session_key = EXCLUDED.session_key, logins = {FLOOR_TABLE}.logins + 1
    RETURNING logins, set_config('synchronous_commit', 'off', true)
"""
FLOOR_COUNTER_KEY = "bench:login-floor"


class _SandboxWeChatClient(WeChatClient):
    """wechatpy's client as it comes, except WeChat's host (the sandbox's, from settings), no access
    token, which jscode2session does not take (wechatpy would fetch one first), and requests not
    looking in the environment for proxies and .netrc on each call: the least wechatpy can cost
    (the product reads the environment once per host, wechat/clients.py)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._http.trust_env = False

    def _request(self, method, url_or_endpoint, **kwargs):
        if "api_base_url" in kwargs and kwargs["api_base_url"].startswith(WECHAT_API_ROOT):
            kwargs["api_base_url"] = settings.WECHAT_API_BASE_URL + kwargs["api_base_url"][len(WECHAT_API_ROOT) :]
        kwargs.setdefault("params", {})["access_token"] = None  # requests drops it
        return super()._request(method, url_or_endpoint, **kwargs)


_this_thread = threading.local()


def _client() -> WeChatClient:
    """One client a thread (a requests.Session is not safe to share), kept: building one walks its API classes."""
    client = getattr(_this_thread, "client", None)
    if client is None:
        client = _this_thread.client = _SandboxWeChatClient(
            settings.WECHAT_MINI_PROGRAM_APPID,
            settings.WECHAT_MINI_PROGRAM_SECRET,
            timeout=settings.WECHAT_HTTP_TIMEOUT,
            auto_retry=False,
        )
    return client


def _session(request) -> dict:
    return _client().wxa.code_to_session(json.loads(request.body)["code"])


@csrf_exempt
@require_POST
def login_floor_wechat(request) -> JsonResponse:
    session = _session(request)
    return JsonResponse({"openid": session["openid"]})


@csrf_exempt
@require_POST
def login_floor_stores(request) -> JsonResponse:
    session = _session(request)
    get_redis_connection("default").incr(FLOOR_COUNTER_KEY)
    with connection.cursor() as cursor:
        cursor.execute(FLOOR_UPSERT_SQL, [session["openid"], session["session_key"]])
        logins = cursor.fetchone()[0]
    return JsonResponse({"openid": session["openid"], "logins": logins})
