"""One access token per WeChat app, shared by every process through the cache.

WeChat issues a new token on each fetch and retires the previous one (cgi-bin/token
after 5 minutes; stable_token with force_refresh at once), and it limits fetches a
day. So web servers and workers never fetch on their own: they read the cached
token, and when it is missing or known stale, one process fetches under a cache
lock while the others wait for the result.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import requests
from django.core.cache import cache

from wechat.errors import WeChatTransientError, error_for_errcode, error_from_exception

logger = logging.getLogger(__name__)

# Refresh this long before WeChat's expiry, so a token handed out is never about to die.
EXPIRY_MARGIN_SECONDS = 300
# The lock outlives one fetch with its timeout, so a crashed holder cannot block refresh for long.
LOCK_SECONDS = 30
WAIT_FOR_REFRESH_SECONDS = 15
POLL_SECONDS = 0.05


@dataclass(frozen=True)
class FetchedToken:
    token: str
    expires_in: int


@dataclass(frozen=True)
class TokenSource:
    """Where and how to fetch an app's token from WeChat."""

    appid: str
    secret: str
    api_base_url: str
    endpoint: str  # "stable" (cgi-bin/stable_token) or "classic" (cgi-bin/token); settings checks it
    timeout: float

    def fetch(self, *, force_refresh: bool = False) -> FetchedToken:
        """A token from WeChat. force_refresh only matters for stable_token, where it retires the current one."""
        try:
            if self.endpoint == "stable":
                response = requests.post(
                    f"{self.api_base_url}cgi-bin/stable_token",
                    json={
                        "grant_type": "client_credential",
                        "appid": self.appid,
                        "secret": self.secret,
                        "force_refresh": force_refresh,
                    },
                    timeout=self.timeout,
                )
            else:
                response = requests.get(
                    f"{self.api_base_url}cgi-bin/token",
                    params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
                    timeout=self.timeout,
                )
            response.raise_for_status()
            body = response.json()
        except requests.RequestException as exc:
            # Not chained: requests' message carries the URL, whose query holds the AppSecret (cgi-bin/token),
            # and a logged traceback would print it.
            raise error_from_exception(exc) from None

        errcode = int(body.get("errcode") or 0)
        if errcode:
            raise error_for_errcode(errcode, f"fetching the access token: {body.get('errmsg', '')}")
        return FetchedToken(token=body["access_token"], expires_in=int(body.get("expires_in", 7200)))


class AccessTokenStore:
    def __init__(self, *, appid: str, fetch: Callable[..., FetchedToken]):
        self.appid = appid
        self._fetch = fetch
        self._key = _token_key(appid)
        self._lock_key = f"wechat:access_token_lock:{appid}"

    def get(self) -> str:
        return cache.get(self._key) or self.refresh(stale_token=None)

    def refresh(self, *, stale_token: str | None) -> str:
        """A token other than `stale_token`, fetched by at most one process at a time.

        Callers that saw 40001/42001 pass the token WeChat refused; whichever of them
        gets the lock first fetches, and the rest find the new token already cached.
        """
        deadline = time.monotonic() + WAIT_FOR_REFRESH_SECONDS
        owner = uuid.uuid4().hex
        while True:
            cached = cache.get(self._key)
            if cached and cached != stale_token:
                return cached
            if cache.add(self._lock_key, owner, timeout=LOCK_SECONDS):
                try:
                    cached = cache.get(self._key)
                    if cached and cached != stale_token:
                        return cached
                    fetched = self._fetch()
                    if fetched.token == stale_token:
                        # stable_token hands back the current token while it thinks it valid;
                        # WeChat has just refused it, so ask for a new one outright.
                        fetched = self._fetch(force_refresh=True)
                    cache.set(self._key, fetched.token, timeout=max(fetched.expires_in - EXPIRY_MARGIN_SECONDS, 60))
                    logger.info("fetched a new WeChat access token for %s", self.appid)
                    return fetched.token
                finally:
                    # Compare-then-delete is not atomic, but the lock only expires after
                    # LOCK_SECONDS, longer than one fetch can take with its timeout.
                    if cache.get(self._lock_key) == owner:
                        cache.delete(self._lock_key)
            if time.monotonic() > deadline:
                raise WeChatTransientError(
                    f"timed out waiting for another process to refresh the token of {self.appid}"
                )
            time.sleep(POLL_SECONDS)


def access_token_forget(*, appid: str) -> None:
    """Drop an app's shared token, e.g. after its secret changed; the next call fetches a new one."""
    cache.delete(_token_key(appid))


def _token_key(appid: str) -> str:
    return f"wechat:access_token:{appid}"
