"""The WeChat sandbox over real HTTP: WeChat's token and login rules, faults, the received log, the control API."""

import base64
import threading
import time

import pytest
import requests
from django.conf import settings
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from wechat.sandbox.client import SandboxClient, SandboxControlError
from wechat.sandbox.server import SandboxApp, start_in_thread

TOKEN = "cgi-bin/token"
STABLE_TOKEN = "cgi-bin/stable_token"
IPS = "cgi-bin/getcallbackip"
LOGIN = "sns/jscode2session"
TIMEOUT = 10


@pytest.fixture
def url(sandbox, sandbox_server) -> str:
    return sandbox_server.url


@pytest.fixture
def own_sandbox():
    """A private sandbox, for tests that register apps the shared one must not keep."""
    running = start_in_thread(apps=[SandboxApp(appid="wxmini", secret="mini-secret", kind="mini_program")])
    yield running
    running.stop()


def fetch_token(url: str, *, appid: str | None = None, secret: str | None = None, **params) -> dict:
    params = {
        "grant_type": "client_credential",
        "appid": settings.WECHAT_OFFICIAL_ACCOUNT_APPID if appid is None else appid,
        "secret": settings.WECHAT_OFFICIAL_ACCOUNT_SECRET if secret is None else secret,
        **params,
    }
    return requests.get(url + TOKEN, params={k: v for k, v in params.items() if v != ""}, timeout=TIMEOUT).json()


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


# --- cgi-bin/token ------------------------------------------------------------


def test_a_token_is_valid_for_two_hours(url, sandbox):
    answer = fetch_token(url)

    assert answer["expires_in"] == 7200
    assert "errcode" not in answer
    assert works(url, answer["access_token"])
    sandbox.advance_clock(7199)
    assert works(url, answer["access_token"])
    sandbox.advance_clock(1)
    assert call_with_token(url, answer["access_token"])["errcode"] == 42001


def test_a_new_token_leaves_the_previous_one_five_minutes(url, sandbox):
    old = fetch_token(url)["access_token"]
    new = fetch_token(url)["access_token"]

    assert new != old
    sandbox.advance_clock(299)
    assert works(url, old)
    sandbox.advance_clock(1)
    assert call_with_token(url, old) == {
        "errcode": 40001,
        "errmsg": "invalid credential, access_token is invalid or not latest",
    }
    assert works(url, new)


def test_another_fetch_does_not_extend_an_old_tokens_five_minutes(url, sandbox):
    oldest = fetch_token(url)["access_token"]
    fetch_token(url)
    sandbox.advance_clock(200)
    fetch_token(url)
    sandbox.advance_clock(100)

    assert call_with_token(url, oldest)["errcode"] == 40001


@pytest.mark.parametrize(
    "params, errcode",
    [
        ({"grant_type": "authorization_code"}, 40002),
        ({"grant_type": ""}, 40002),
        ({"appid": ""}, 41002),
        ({"secret": ""}, 41004),
        ({"appid": "wxnotregistered00"}, 40013),
        ({"secret": "not-the-secret"}, 40125),
    ],
)
def test_token_request_errors(url, params, errcode):
    answer = fetch_token(url, **params)

    assert answer["errcode"] == errcode
    assert answer["errmsg"]
    assert "access_token" not in answer


# --- cgi-bin/stable_token ----------------------------------------------------


def test_stable_token_is_the_same_while_it_has_five_minutes_left(url, sandbox):
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
    old = fetch_stable_token(url)["access_token"]

    new = fetch_stable_token(url, force_refresh=True)

    assert new["access_token"] != old
    assert new["expires_in"] == 7200
    assert call_with_token(url, old)["errcode"] == 40001
    assert works(url, new["access_token"])
    assert fetch_stable_token(url)["access_token"] == new["access_token"]


def test_force_refresh_is_limited_to_one_in_30_seconds_and_20_a_day(url, sandbox):
    assert "access_token" in fetch_stable_token(url, force_refresh=True)
    assert fetch_stable_token(url, force_refresh=True) == {
        "errcode": 45009,
        "errmsg": "reach max api daily quota limit",
    }

    for _ in range(19):
        sandbox.advance_clock(30)
        assert "access_token" in fetch_stable_token(url, force_refresh=True)
    sandbox.advance_clock(30)
    assert fetch_stable_token(url, force_refresh=True)["errcode"] == 45009
    assert "access_token" in fetch_stable_token(url)  # the refused refresh left the current token usable

    sandbox.advance_clock(86400)
    assert "access_token" in fetch_stable_token(url, force_refresh=True)


def test_stable_and_classic_tokens_never_retire_each_other(url, sandbox):
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
        (b"{not json", 47001),
        (b"[]", 47001),
        (b'{"grant_type": "client_credential", "appid": "a", "secret": "b", "force_refresh": "yes"}', 47001),
        (b'{"grant_type": "password", "appid": "a", "secret": "b"}', 40002),
        (b'{"grant_type": "client_credential", "secret": "b"}', 41002),
        (b'{"grant_type": "client_credential", "appid": "wxnotregistered00", "secret": "b"}', 40013),
    ],
)
def test_stable_token_body_errors(url, body, errcode):
    answer = requests.post(url + STABLE_TOKEN, data=body, timeout=TIMEOUT)

    assert answer.status_code == 200  # WeChat reports errors in the body
    assert answer.json()["errcode"] == errcode


def test_stable_token_with_a_wrong_secret(url):
    assert fetch_stable_token(url, secret="not-the-secret") == {"errcode": 40125, "errmsg": "invalid appsecret"}


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
        (None, 41001, "access_token missing"),
        ("", 41001, "access_token missing"),
        ("not a token!", 40014, "invalid access_token"),
        ("A" * 136, 40001, "invalid credential, access_token is invalid or not latest"),
    ],
)
def test_token_check_refuses_missing_malformed_and_unknown_tokens(url, token, errcode, errmsg):
    assert call_with_token(url, token) == {"errcode": errcode, "errmsg": errmsg}


def test_expired_tokens_get_42001(url, sandbox):
    classic = fetch_token(url)["access_token"]
    stable = fetch_stable_token(url)["access_token"]
    other_app = fetch_token(url, appid=settings.WECHAT_MINI_PROGRAM_APPID, secret=settings.WECHAT_MINI_PROGRAM_SECRET)[
        "access_token"
    ]

    sandbox.expire_tokens(settings.WECHAT_OFFICIAL_ACCOUNT_APPID)

    assert call_with_token(url, classic) == {"errcode": 42001, "errmsg": "access_token expired"}
    assert call_with_token(url, stable)["errcode"] == 42001
    assert works(url, other_app)
    assert fetch_stable_token(url)["access_token"] != stable  # a dead stable token is replaced


# --- sns/jscode2session ----------------------------------------------------------


def test_login_with_a_minted_code(url, sandbox):
    minted = sandbox.mint_login_code()

    session = login(url, minted["code"])

    assert minted["appid"] == settings.WECHAT_MINI_PROGRAM_APPID
    assert minted["openid"].startswith("o") and len(minted["openid"]) == 28
    assert set(session) == {"openid", "session_key"}
    assert session["openid"] == minted["openid"]
    assert len(base64.b64decode(session["session_key"], validate=True)) == 16


def test_login_gives_the_unionid_the_code_was_minted_with(url, sandbox):
    minted = sandbox.mint_login_code(openid="oKnownUser000000000000000000", unionid="o6_union")

    session = login(url, minted["code"], access_token="ignored-like-wechat-does")

    assert session["openid"] == "oKnownUser000000000000000000"
    assert session["unionid"] == "o6_union"


def test_a_code_works_once(url, sandbox):
    code = sandbox.mint_login_code()["code"]
    assert "openid" in login(url, code)

    assert login(url, code) == {"errcode": 40029, "errmsg": "invalid code"}


def test_an_unknown_code_is_invalid(url):
    assert login(url, "0" + "x" * 31)["errcode"] == 40029


def test_a_code_expires_after_five_minutes(url, sandbox):
    fresh, stale = sandbox.mint_login_code()["code"], sandbox.mint_login_code()["code"]
    sandbox.advance_clock(299)
    assert "openid" in login(url, fresh)

    sandbox.advance_clock(1)
    assert login(url, stale)["errcode"] == 40029


def test_a_code_works_only_for_its_own_app(own_sandbox):
    client = SandboxClient(own_sandbox.url)
    client.register_app("wxothermini", "other-secret", "mini_program")
    code = client.mint_login_code(appid="wxothermini")["code"]

    answer = login(own_sandbox.url, code, appid="wxmini", secret="mini-secret")

    assert answer["errcode"] == 40029
    assert "openid" in login(own_sandbox.url, code, appid="wxothermini", secret="other-secret")


def test_a_blocked_user_cannot_log_in(url, sandbox):
    minted = sandbox.mint_login_code()
    sandbox.block_user(minted["openid"])

    assert login(url, minted["code"]) == {"errcode": 40226, "errmsg": "high risk user"}


def test_more_than_100_logins_a_minute_for_one_user_are_refused(url, sandbox):
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
        ({"secret": "not-the-secret"}, 40125),
        ({"appid": "wxnotregistered00"}, 40013),
        ({"appid": ""}, 41002),
        ({"grant_type": "client_credential"}, 40002),
        ({"js_code": ""}, 41008),
    ],
)
def test_login_request_errors(url, sandbox, params, errcode):
    code = sandbox.mint_login_code()["code"]

    assert login(url, code, **params)["errcode"] == errcode
    assert "openid" in login(url, code)  # a refused call does not use the code up


# --- wechatpy, unmodified --------------------------------------------------------


class SandboxWeChatClient(WeChatClient):
    """wechatpy's client with the sandbox as its host: the only change our code makes too."""

    def __init__(self, base_url: str, appid: str, secret: str):
        super().__init__(appid, secret)
        self.API_BASE_URL = f"{base_url}cgi-bin/"

    def fetch_access_token(self):
        # wechatpy hard-codes api.weixin.qq.com here; same call, through its own helper, to our host.
        return self._fetch_access_token(
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret},
        )


def test_wechatpy_fetches_a_token_calls_with_it_and_refetches_when_it_expires(url, sandbox):
    client = SandboxWeChatClient(url, settings.WECHAT_OFFICIAL_ACCOUNT_APPID, settings.WECHAT_OFFICIAL_ACCOUNT_SECRET)

    assert client.misc.get_wechat_ips() == ["127.0.0.1"]
    sandbox.expire_tokens(client.appid)
    assert client.misc.get_wechat_ips() == ["127.0.0.1"]

    assert [call["errcode"] for call in sandbox.received("/" + IPS)] == [None, 42001, None]
    assert len(sandbox.received("/" + TOKEN)) == 2


def test_wechatpy_code_to_session(url, sandbox):
    client = WeChatClient(settings.WECHAT_MINI_PROGRAM_APPID, settings.WECHAT_MINI_PROGRAM_SECRET, access_token="x")
    client.wxa.API_BASE_URL = url
    minted = sandbox.mint_login_code(unionid="o6_union")

    session = client.wxa.code_to_session(minted["code"])

    assert session["openid"] == minted["openid"]
    assert session["unionid"] == "o6_union"
    with pytest.raises(WeChatClientException) as refused:
        client.wxa.code_to_session(minted["code"])
    assert refused.value.errcode == 40029


# --- faults ----------------------------------------------------------------------


def test_an_errcode_fault_answers_like_wechat_for_the_given_number_of_requests(url, sandbox):
    token = fetch_token(url)["access_token"]
    fault = sandbox.add_fault("/" + IPS, errcode=-1, times=2)

    answers = [call_with_token(url, token) for _ in range(3)]

    assert fault["times"] == 2 and fault["id"]
    assert answers == [{"errcode": -1, "errmsg": "system error"}] * 2 + [{"ip_list": ["127.0.0.1"]}]
    assert [call["errcode"] for call in sandbox.received("/" + IPS)] == [-1, -1, None]


@pytest.mark.parametrize(
    "errcode, errmsg",
    [
        (45009, "reach max api daily quota limit"),
        (45011, "api minute-quota reach limit  mustslower  retry next minute"),
        (40001, "invalid credential, access_token is invalid or not latest"),
    ],
)
def test_errcode_faults_carry_wechats_errmsg(url, sandbox, errcode, errmsg):
    sandbox.add_fault("/" + TOKEN, errcode=errcode)

    assert fetch_token(url) == {"errcode": errcode, "errmsg": errmsg}


def test_an_errcode_fault_with_its_own_errmsg(url, sandbox):
    sandbox.add_fault("/" + LOGIN, errcode=40163, errmsg="code been used")

    assert login(url, "anything") == {"errcode": 40163, "errmsg": "code been used"}


def test_faults_apply_first_added_first_and_only_to_their_path(url, sandbox):
    sandbox.add_fault("/" + TOKEN, errcode=45009)
    sandbox.add_fault("/" + TOKEN, errcode=-1)

    token = fetch_stable_token(url)["access_token"]  # another path: untouched

    assert works(url, token)
    assert [fetch_token(url).get("errcode") for _ in range(3)] == [45009, -1, None]


def test_a_delay_fault_slows_the_answer_without_blocking_other_requests(url, sandbox):
    token = fetch_token(url)["access_token"]
    sandbox.add_fault("/" + IPS, delay=0.8)
    slow: dict = {}

    def call_slowly():
        started = time.monotonic()
        slow["answer"] = call_with_token(url, token)
        slow["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=call_slowly)
    thread.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert works(url, token)
    fast_seconds = time.monotonic() - started
    thread.join(timeout=TIMEOUT)

    assert slow["answer"] == {"ip_list": ["127.0.0.1"]}
    assert 0.8 <= slow["seconds"] < 3
    assert fast_seconds < 0.5


def test_a_delay_combines_with_an_errcode(url, sandbox):
    sandbox.add_fault("/" + TOKEN, delay=0.3, errcode=-1)

    started = time.monotonic()
    answer = fetch_token(url)

    assert time.monotonic() - started >= 0.3
    assert answer["errcode"] == -1


def test_a_delay_longer_than_the_clients_timeout_times_it_out(url, sandbox):
    sandbox.add_fault("/" + TOKEN, delay=2)

    with pytest.raises(requests.Timeout):
        requests.get(url + TOKEN, timeout=0.3)


def test_an_http_status_fault(url, sandbox):
    sandbox.add_fault("/" + TOKEN, http_status=502)

    response = requests.get(url + TOKEN, timeout=TIMEOUT)

    assert response.status_code == 502
    assert "502 Bad Gateway" in response.text
    assert sandbox.received("/" + TOKEN)[0]["errcode"] is None
    assert "access_token" in fetch_token(url)


def test_a_drop_fault_closes_the_connection_without_an_answer(url, sandbox):
    sandbox.add_fault("/" + TOKEN, drop=True)

    started = time.monotonic()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + TOKEN, timeout=5)

    assert time.monotonic() - started < 2  # refused at once, not left hanging to a timeout
    assert len(sandbox.received("/" + TOKEN)) == 1
    assert "access_token" in fetch_token(url)


def test_waiting_faults_can_be_listed_and_cleared(url, sandbox):
    first = sandbox.add_fault("/" + TOKEN, errcode=-1, times=3)
    fetch_token(url)
    sandbox.add_fault("/" + LOGIN, drop=True)

    pending = requests.get(url + "sandbox/faults", timeout=TIMEOUT).json()["faults"]

    assert [(fault["path"], fault["times"]) for fault in pending] == [("/" + TOKEN, 2), ("/" + LOGIN, 1)]
    assert pending[0]["id"] == first["id"]
    sandbox.clear_faults()
    assert requests.get(url + "sandbox/faults", timeout=TIMEOUT).json() == {"faults": []}
    assert "access_token" in fetch_token(url)


# --- the received log -------------------------------------------------------------


def test_received_log_records_wechat_requests_but_not_control_requests(url, sandbox):
    before = time.time()
    fetch_stable_token(url)
    fetch_token(url, secret="not-the-secret")
    sandbox.mint_login_code()

    everything = sandbox.received()
    stable = sandbox.received("/" + STABLE_TOKEN)

    assert [call["path"] for call in everything] == ["/" + STABLE_TOKEN, "/" + TOKEN]
    assert stable[0]["method"] == "POST"
    assert stable[0]["query"] == {}
    assert '"force_refresh": false' in stable[0]["body"]
    assert before - 1 <= stable[0]["at"] <= time.time() + 1
    assert stable[0]["errcode"] is None
    token_call = sandbox.received("/" + TOKEN)[0]
    assert token_call["query"]["appid"] == settings.WECHAT_OFFICIAL_ACCOUNT_APPID
    assert token_call["errcode"] == 40125


def test_received_bodies_are_truncated_to_10_kb(url, sandbox):
    requests.post(url + STABLE_TOKEN, data="x" * 50_000, timeout=TIMEOUT)

    assert len(sandbox.received("/" + STABLE_TOKEN)[0]["body"]) == 10 * 1024


def test_received_log_can_be_cleared(url, sandbox):
    fetch_token(url)

    deleted = requests.delete(url + "sandbox/received", timeout=TIMEOUT).json()

    assert deleted == {"deleted": 1}
    assert sandbox.received() == []


def test_unknown_wechat_paths_answer_404_and_are_logged(url, sandbox):
    response = requests.get(url + "cgi-bin/no/such/thing", timeout=TIMEOUT)

    assert response.status_code == 404
    assert response.json()["errcode"] == 404
    assert sandbox.received("/cgi-bin/no/such/thing")[0]["errcode"] == 404


# --- reset and the control API ------------------------------------------------------


def test_reset_forgets_everything_but_the_apps(url, sandbox):
    token = fetch_token(url)["access_token"]
    minted = sandbox.mint_login_code()
    sandbox.block_user("oBlocked")
    sandbox.add_fault("/" + TOKEN, errcode=-1)
    sandbox.advance_clock(1000)

    sandbox.reset()

    assert call_with_token(url, token)["errcode"] == 40001
    assert login(url, minted["code"])["errcode"] == 40029
    assert requests.get(url + "sandbox/faults", timeout=TIMEOUT).json() == {"faults": []}
    assert requests.get(url + "sandbox/clock", timeout=TIMEOUT).json()["offset"] == 0
    assert "openid" in login(url, sandbox.mint_login_code(openid="oBlocked")["code"])
    assert "access_token" in fetch_token(url)  # the apps are still registered
    assert [call["path"] for call in sandbox.received()] == ["/" + IPS, "/" + LOGIN, "/" + LOGIN, "/" + TOKEN]


def test_the_index_describes_apps_and_endpoints_without_secrets(url):
    response = requests.get(url + "sandbox/", timeout=TIMEOUT)

    index = response.json()
    assert response.status_code == 200
    assert {app["appid"] for app in index["apps"]} >= {
        settings.WECHAT_OFFICIAL_ACCOUNT_APPID,
        settings.WECHAT_MINI_PROGRAM_APPID,
    }
    assert settings.WECHAT_MINI_PROGRAM_SECRET not in response.text
    wechat_paths = {endpoint["path"] for endpoint in index["wechat_endpoints"]}
    assert {"/cgi-bin/token", "/cgi-bin/stable_token", "/cgi-bin/getcallbackip", "/sns/jscode2session"} <= wechat_paths
    assert all(endpoint["description"] for endpoint in index["wechat_endpoints"] + index["control_endpoints"])
    assert requests.get(url + "sandbox", timeout=TIMEOUT).json()["wechat_endpoints"] == index["wechat_endpoints"]


def test_a_registered_app_gets_tokens(own_sandbox):
    client = SandboxClient(own_sandbox.url)

    registered = client.register_app("wxneweraccount", "new-secret", "official_account")
    answer = fetch_token(own_sandbox.url, appid="wxneweraccount", secret="new-secret")

    assert registered == {"appid": "wxneweraccount", "kind": "official_account"}
    assert answer["expires_in"] == 7200


def test_minting_needs_an_appid_when_several_mini_programs_are_registered(own_sandbox):
    client = SandboxClient(own_sandbox.url)
    client.register_app("wxsecondmini", "second-secret", "mini_program")

    with pytest.raises(SandboxControlError, match="2 Mini Programs are registered"):
        client.mint_login_code()
    assert client.mint_login_code(appid="wxsecondmini")["appid"] == "wxsecondmini"


def test_clock_advances_and_reports_its_offset(url, sandbox):
    before = time.time()

    clock = sandbox.advance_clock(3600)

    assert clock["offset"] == 3600
    assert before + 3600 <= clock["now"] <= time.time() + 3600 + 1


@pytest.mark.parametrize(
    "method, path, body, message",
    [
        ("POST", "faults", {"path": "/cgi-bin/token"}, "needs errcode, http_status, drop or delay"),
        ("POST", "faults", {"path": "cgi-bin/token", "errcode": -1}, "must be a WeChat path"),
        ("POST", "faults", {"path": "/sandbox/reset", "errcode": -1}, "must be a WeChat path"),
        ("POST", "faults", {"path": "/cgi-bin/token", "errcode": -1, "drop": True}, "at most one"),
        ("POST", "faults", {"path": "/cgi-bin/token", "errcode": -1, "times": 0}, "times must be between"),
        ("POST", "faults", {"path": "/cgi-bin/token", "errcode": "-1"}, "errcode must be an integer"),
        ("POST", "faults", {"path": "/cgi-bin/token", "delay": -1}, "delay must be between"),
        ("POST", "faults", {"path": "/cgi-bin/token", "http_status": 200}, "http_status must be between"),
        ("POST", "faults", {"path": "/cgi-bin/token", "errorcode": -1}, "unknown field(s) errorcode"),
        ("POST", "faults", {"path": "/cgi-bin/token", "errcode": 0}, "errcode 0 is success"),
        ("POST", "faults", {"path": "/cgi-bin/token", "errmsg": "x", "delay": 1}, "errmsg goes with errcode"),
        ("POST", "miniprogram/codes", {"appid": "wxnotregistered00"}, "no app 'wxnotregistered00'"),
        ("POST", "miniprogram/codes", {"appid": settings.WECHAT_OFFICIAL_ACCOUNT_APPID}, "are for Mini Programs"),
        ("POST", "miniprogram/codes", {"openid": ""}, "openid must be a non-empty string"),
        ("POST", "miniprogram/blocked", {}, "openid is required"),
        ("POST", "apps", {"appid": "wxa", "secret": "s", "kind": "game"}, "kind must be one of"),
        ("POST", "apps", {"appid": "wxa", "kind": "mini_program"}, "secret is required"),
        ("POST", "clock", {"advance": -5}, "advance must be between"),
        ("POST", "clock", {}, "advance is required"),
        ("POST", "tokens/expire", {"appid": "wxnotregistered00"}, "no app 'wxnotregistered00'"),
    ],
)
def test_bad_control_input_is_a_400_saying_why(url, sandbox, method, path, body, message):
    response = requests.request(method, f"{url}sandbox/{path}", json=body, timeout=TIMEOUT)

    assert response.status_code == 400
    assert response.json()["errcode"] == 400
    assert message in response.json()["errmsg"]


@pytest.mark.parametrize("body", [b"{oops", b"[1, 2]", b'"text"'])
def test_control_bodies_must_be_json_objects(url, body, sandbox):
    response = requests.post(url + "sandbox/faults", data=body, timeout=TIMEOUT)

    assert response.status_code == 400
    assert "JSON" in response.json()["errmsg"]


def test_unknown_control_paths_and_methods_are_json_errors(url, sandbox):
    missing = requests.get(url + "sandbox/nothing-here", timeout=TIMEOUT)
    wrong_method = requests.put(url + "sandbox/faults", timeout=TIMEOUT)

    assert missing.status_code == 404
    assert missing.json()["errcode"] == 404
    assert wrong_method.status_code == 405
    assert "DELETE, GET, POST" in wrong_method.json()["errmsg"]
    assert sandbox.received() == []


def test_the_client_reports_refusals_with_the_sandboxs_message(sandbox):
    with pytest.raises(SandboxControlError) as refused:
        sandbox.add_fault("/cgi-bin/token")

    assert refused.value.status == 400
    assert "needs errcode, http_status, drop or delay" in str(refused.value)
