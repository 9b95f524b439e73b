"""wechatpy clients built from settings: the only place that constructs them.

Our subclass changes three things and nothing else: the API host (so the sandbox
or real WeChat is one setting), where the access token comes from (the shared
store, not a per-process session), and errors (ours, split transient/permanent).

Each thread keeps its clients (one per app, host and timeout): building a wechatpy client walks
its API classes, and each keeps its HTTP connection to WeChat open for the next call, so a login
does not open a connection (a TLS handshake to api.weixin.qq.com) of its own. A requests.Session
is not safe to share between threads, hence one set per thread.
"""

import os
import threading
import time
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.sessions import merge_setting
from requests.utils import get_environ_proxies
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from wechat.errors import TOKEN_ERRCODES, error_from_exception
from wechat.tokens import AccessTokenStore, TokenSource

WECHAT_API_ROOT = "https://api.weixin.qq.com/"
# Endpoints that authenticate with appid+secret, not an access token: sending one
# would make every login wait for a token fetch it does not need.
TOKENLESS_ENDPOINTS = ("sns/jscode2session",)
# Requests a session keeps prepared (EnvironmentOnceSession); past that, it starts afresh (a new token, a new host).
PREPARED_PER_SESSION = 32


class EnvironmentOnceSession(requests.Session):
    """A requests.Session that reads the environment once per host, and prepares a request's URL once per query.

    requests walks the whole of os.environ (twice) on each call to find *_proxy and no_proxy, a good
    part of what it adds to a login; a running process's environment does not change. The same
    variables count (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE, ...), with the same precedence.

    Preparing a request (parsing and requoting its URL and query, merging the session's headers,
    cookies and hooks, looking up ~/.netrc) costs as much again as a follower sync's call of 100 takes
    in urllib3, and a WeChat API call repeats the same URL and query (its access token) for hours. A
    request the session adds nothing variable to (no cookies kept, no auth, no extra headers, a body
    of bytes or none) is a copy of the one prepared for its method, URL, query and the session's
    headers, given its own body; any other goes through requests' own preparation.
    """

    def __init__(self):
        super().__init__()
        self._environment_proxies: dict[tuple, dict[str, str]] = {}
        self._environment_ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self._prepared: dict[tuple, requests.PreparedRequest] = {}

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        if (key := self._prepared_key(request)) is None:
            return super().prepare_request(request)
        if (template := self._prepared.get(key)) is None:
            if len(self._prepared) >= PREPARED_PER_SESSION:
                self._prepared.clear()
            template = self._prepared[key] = super().prepare_request(
                requests.Request(method=request.method, url=request.url, params=request.params)
            )
        prepared = template.copy()
        prepared.prepare_body(request.data or None, None)
        return prepared

    def _prepared_key(self, request: requests.Request) -> tuple | None:
        """What a request prepared by the session depends on, or None when it must be prepared afresh."""
        if (
            request.files
            or request.json is not None
            or request.headers
            or request.cookies
            or request.auth
            or any(request.hooks.values())
            or (request.data and not isinstance(request.data, bytes))
            or self.cookies
            or self.auth
            or self.params
            or any(self.hooks.values())
        ):
            return None
        params = request.params
        key = (request.method, request.url, tuple(params.items()) if isinstance(params, dict) else params)
        try:
            hash(key)
        except TypeError:  # a query value that is a list, say: nothing to gain
            return None
        return (*key, tuple(self.headers.items()))

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        if not self.trust_env:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        no_proxy = proxies.get("no_proxy") if proxies is not None else None
        key = (*urlsplit(url)[:2], no_proxy)
        if (environment_proxies := self._environment_proxies.get(key)) is None:
            environment_proxies = self._environment_proxies[key] = get_environ_proxies(url, no_proxy=no_proxy)
        if proxies is not None:
            for scheme, proxy in environment_proxies.items():
                proxies.setdefault(scheme, proxy)
        if verify is True or verify is None:
            verify = self._environment_ca_bundle or verify
        return {
            "proxies": merge_setting(proxies, self.proxies),
            "stream": merge_setting(stream, self.stream),
            "verify": merge_setting(verify, self.verify),
            "cert": merge_setting(cert, self.cert),
        }


class SharedTokenClient(WeChatClient):
    # Seconds this client may reuse the token it last read from the shared store before reading it again;
    # 0, the default, reads the store for every call. A client making many calls in a row (a follower
    # sync's threads) sets more and saves a cache round trip a call: a token replaced elsewhere meanwhile
    # is answered 40001/42001 by WeChat and refreshed through the store, as a token that expired is.
    token_reuse_seconds = 0.0

    def __init__(self, *, appid: str, secret: str, api_base_url: str, timeout: float, token_endpoint: str):
        # auto_retry off: wechatpy would refetch on every 40001 without bound; we retry once.
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self._http = EnvironmentOnceSession()
        self.api_root = api_base_url
        self.API_BASE_URL = f"{api_base_url}cgi-bin/"
        source = TokenSource(
            appid=appid, secret=secret, api_base_url=api_base_url, endpoint=token_endpoint, timeout=timeout
        )
        self.token_store = AccessTokenStore(appid=appid, fetch=source.fetch)
        self._held_token: str | None = None
        self._held_until = 0.0

    @property
    def access_token(self) -> str:
        return self.token_store.get()

    def fetch_access_token(self) -> str:
        return self.token_store.refresh(stale_token=None)

    def _request(self, method, url_or_endpoint, **kwargs):
        url_or_endpoint = self._rebase(url_or_endpoint)
        if "api_base_url" in kwargs:
            kwargs["api_base_url"] = self._rebase(kwargs["api_base_url"])
        params = kwargs.setdefault("params", {})
        token_is_ours = "access_token" not in params and not url_or_endpoint.endswith(TOKENLESS_ENDPOINTS)
        if "access_token" not in params:
            # requests drops None-valued params, so a tokenless endpoint gets none.
            params["access_token"] = self._token() if token_is_ours else None
        try:
            return self._request_refreshing_stale_token(method, url_or_endpoint, token_is_ours, **kwargs)
        except (WeChatClientException, requests.RequestException) as exc:
            # Not chained: requests' message carries the URL, whose query holds the AppSecret or the
            # access token (cgi-bin/token, sns/jscode2session, every call), and a logged traceback prints it.
            raise error_from_exception(exc) from None

    def _request_refreshing_stale_token(self, method, url, token_is_ours, **kwargs):
        try:
            return super()._request(method, url, **kwargs)
        except WeChatClientException as exc:
            if not token_is_ours or exc.errcode not in TOKEN_ERRCODES:
                raise
            params = kwargs["params"]
            params["access_token"] = self._held_token = self.token_store.refresh(stale_token=params["access_token"])
            return super()._request(method, url, **kwargs)

    def _token(self) -> str:
        if self.token_reuse_seconds <= 0:
            return self.token_store.get()
        now = time.monotonic()
        if self._held_token is None or now >= self._held_until:
            self._held_token, self._held_until = self.token_store.get(), now + self.token_reuse_seconds
        return self._held_token

    def _rebase(self, url: str) -> str:
        return self.api_root + url[len(WECHAT_API_ROOT) :] if url.startswith(WECHAT_API_ROOT) else url


_this_thread = threading.local()
# Apps × hosts one thread may meet; past it the thread starts its set afresh (tests change hosts often).
CLIENTS_PER_THREAD = 64


def _client(*, appid: str, secret: str) -> SharedTokenClient:
    key = (appid, secret, settings.WECHAT_API_BASE_URL, settings.WECHAT_HTTP_TIMEOUT, settings.WECHAT_TOKEN_ENDPOINT)
    clients = getattr(_this_thread, "clients", None)
    if clients is None or len(clients) >= CLIENTS_PER_THREAD:
        clients = _this_thread.clients = {}
    if (client := clients.get(key)) is None:
        client = clients[key] = SharedTokenClient(
            appid=appid, secret=secret, api_base_url=key[2], timeout=key[3], token_endpoint=key[4]
        )
    return client


def official_account_client() -> SharedTokenClient:
    return _client(appid=settings.WECHAT_OFFICIAL_ACCOUNT_APPID, secret=settings.WECHAT_OFFICIAL_ACCOUNT_SECRET)


def client_for_official_account(account) -> SharedTokenClient:
    """A client with an OfficialAccount's credentials; its token is shared per app id like every other."""
    return _client(appid=account.appid, secret=account.app_secret)


def mini_program_client(mini_program=None) -> SharedTokenClient:
    """A client with a MiniProgram's credentials, or the settings' when none is given."""
    if mini_program is not None:
        return _client(appid=mini_program.appid, secret=mini_program.app_secret)
    return _client(appid=settings.WECHAT_MINI_PROGRAM_APPID, secret=settings.WECHAT_MINI_PROGRAM_SECRET)
