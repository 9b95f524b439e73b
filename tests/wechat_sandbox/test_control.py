"""The control API over real HTTP: reset, apps, the received log, the clock, state snapshots, and its own errors."""

import hashlib
import json
import threading
import time

import pytest
import requests
from django.conf import settings

from tests.wechat_sandbox.calls import (
    IPS,
    LOGIN,
    STABLE_TOKEN,
    TIMEOUT,
    TOKEN,
    call_with_token,
    fetch_stable_token,
    fetch_token,
    login,
    works,
)
from wechat_sandbox.client import SandboxClient, SandboxControlError

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"


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


# --- reset, index, apps ------------------------------------------------------------


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
    wechat = {endpoint["path"]: endpoint for endpoint in index["wechat_endpoints"]}
    assert {"/cgi-bin/token", "/cgi-bin/stable_token", "/cgi-bin/getcallbackip", "/sns/jscode2session"} <= set(wechat)
    assert wechat["/wxa/checksession"]["app_kinds"] == ["mini_program"]
    assert wechat["/cgi-bin/token"]["protocol"] == "json"
    control = {(endpoint["path"], method) for endpoint in index["control_endpoints"] for method in endpoint["methods"]}
    assert {("/sandbox/apps", "GET"), ("/sandbox/apps/<appid>", "DELETE"), ("/sandbox/state", "PUT")} <= control
    assert all(endpoint["description"] for endpoint in index["wechat_endpoints"] + index["control_endpoints"])
    assert requests.get(url + "sandbox", timeout=TIMEOUT).json()["wechat_endpoints"] == index["wechat_endpoints"]


def test_a_registered_app_gets_tokens(own_sandbox):
    client = SandboxClient(own_sandbox.url)

    registered = client.register_app("wxneweraccount", "new-secret", "official_account")
    answer = fetch_token(own_sandbox.url, appid="wxneweraccount", secret="new-secret")

    # An Official Account registered without an account_type is a subscription account.
    assert registered == {"appid": "wxneweraccount", "kind": "official_account", "account_type": "subscription"}
    assert answer["expires_in"] == 7200


def test_apps_carry_their_callback_setup_and_never_show_its_secrets(own_sandbox):
    body = {
        "appid": "wxcallbacks",
        "secret": "callback-app-secret",
        "kind": "official_account",
        "callback": {"url": "http://127.0.0.1:9/wechat/oa/wxcallbacks/", "token": "oaToken123", "mode": "safe",
                     "encoding_aes_key": AES_KEY},
    }  # fmt: skip

    registered = requests.post(own_sandbox.url + "sandbox/apps", json=body, timeout=TIMEOUT)
    listed = requests.get(own_sandbox.url + "sandbox/apps", timeout=TIMEOUT)

    expected_callback = {
        "url": "http://127.0.0.1:9/wechat/oa/wxcallbacks/",
        "mode": "safe",
        "token_set": True,
        "encoding_aes_key_set": True,
    }
    assert registered.status_code == 201
    assert registered.json()["callback"] == expected_callback
    listed_app = {"appid": "wxcallbacks", "kind": "official_account", "account_type": "subscription"}
    assert {**listed_app, "callback": expected_callback} in listed.json()["apps"]
    state = requests.get(own_sandbox.url + "sandbox/state", timeout=TIMEOUT)
    for secret in ("callback-app-secret", "oaToken123", AES_KEY):
        assert secret not in registered.text + listed.text + state.text
    saved = next(app for app in state.json()["apps"] if app["appid"] == "wxcallbacks")
    assert saved["callback"]["token_sha256"] == hashlib.sha256(b"oaToken123").hexdigest()
    assert saved["callback"]["encoding_aes_key_sha256"] == hashlib.sha256(AES_KEY.encode()).hexdigest()


@pytest.mark.parametrize(
    "callback, message",
    [
        ({"url": "ftp://x", "token": "abc"}, "callback.url must be an http"),
        ({"url": "http://x/", "token": "a"}, "callback.token must be 3 to 32"),
        ({"url": "http://x/", "token": "abc", "mode": "safe"}, "encoding_aes_key is required in safe mode"),
        ({"url": "http://x/", "token": "abc", "encoding_aes_key": AES_KEY[:42]}, "must be 43 letters or digits"),
        ({"url": "http://x/", "token": "abc", "mode": "loud"}, "callback.mode must be one of"),
        ({"url": "http://x/", "token": "abc", "aes": "x"}, "unknown field(s) callback.aes"),
        ("http://x/", "callback must be a JSON object"),
    ],
)
def test_bad_callback_setup_is_refused(own_sandbox, callback, message):
    body = {"appid": "wxbad", "secret": "s", "kind": "official_account", "callback": callback}

    response = requests.post(own_sandbox.url + "sandbox/apps", json=body, timeout=TIMEOUT)

    assert response.status_code == 400
    assert message in response.json()["errmsg"]


def test_a_removed_app_is_unknown_to_wechat(own_sandbox):
    base = own_sandbox.url
    client = SandboxClient(base)
    token = fetch_token(base, appid="wxmini", secret="mini-secret")["access_token"]
    code = client.mint_login_code()["code"]

    removed = requests.delete(base + "sandbox/apps/wxmini", timeout=TIMEOUT)

    assert removed.json() == {"appid": "wxmini", "deleted": True}
    assert client.apps() == []
    assert fetch_token(base, appid="wxmini", secret="mini-secret")["errcode"] == 40013
    assert login(base, code, appid="wxmini", secret="mini-secret")["errcode"] == 40013
    assert call_with_token(base, token)["errcode"] == 40001
    client.register_app("wxmini", "mini-secret", "mini_program")  # back again: nothing issued before survives
    assert call_with_token(base, token)["errcode"] == 40001
    assert login(base, code, appid="wxmini", secret="mini-secret")["errcode"] == 40029
    with pytest.raises(SandboxControlError, match="no app 'wxmini-gone'") as missing:
        client.remove_app("wxmini-gone")
    assert missing.value.status == 404


def test_minting_needs_an_appid_when_several_mini_programs_are_registered(own_sandbox):
    client = SandboxClient(own_sandbox.url)
    client.register_app("wxsecondmini", "second-secret", "mini_program")

    with pytest.raises(SandboxControlError, match="2 Mini Programs are registered"):
        client.mint_login_code()
    assert client.mint_login_code(appid="wxsecondmini")["appid"] == "wxsecondmini"


# --- the clock ---------------------------------------------------------------------


def test_clock_advances_and_reports_its_offset(url, sandbox):
    before = time.time()

    clock = sandbox.advance_clock(3600)

    assert clock["offset"] == 3600
    assert before + 3600 <= clock["now"] <= time.time() + 3600 + 1


def test_clock_moves_back_and_resets_but_never_behind_real_time(url, sandbox):
    sandbox.advance_clock(3600)

    back = sandbox.advance_clock(-600)
    floored = sandbox.advance_clock(-86400)
    sandbox.advance_clock(120)
    reset = requests.delete(url + "sandbox/clock", timeout=TIMEOUT)

    assert back["offset"] == 3000
    assert floored["offset"] == 0
    assert reset.status_code == 200 and reset.json()["offset"] == 0
    assert abs(reset.json()["now"] - time.time()) < 2


# --- latency -----------------------------------------------------------------------


def test_latency_delays_every_wechat_answer_but_not_the_control_api_until_reset(url, sandbox):
    sandbox.set_latency(0.2)

    started = time.perf_counter()
    token = fetch_token(url)
    slowed = time.perf_counter() - started
    started = time.perf_counter()
    shown = requests.get(url + "sandbox/latency", timeout=TIMEOUT).json()
    control = time.perf_counter() - started
    sandbox.reset()
    started = time.perf_counter()
    fetch_token(url)
    after_reset = time.perf_counter() - started

    assert "access_token" in token
    assert slowed >= 0.2
    assert shown == {"seconds": 0.2}
    assert control < 0.2 and after_reset < 0.2
    assert requests.get(url + "sandbox/latency", timeout=TIMEOUT).json() == {"seconds": 0}


def test_latency_is_cleared_by_delete(url, sandbox):
    sandbox.set_latency(1)

    cleared = requests.delete(url + "sandbox/latency", timeout=TIMEOUT)

    assert cleared.json() == {"seconds": 0}
    assert requests.get(url + "sandbox/latency", timeout=TIMEOUT).json() == {"seconds": 0}


def test_clock_listeners_run_after_each_advance_outside_the_lock(own_sandbox):
    heard: list[tuple[float, bool]] = []

    def listener(sandbox):
        # Another thread can take the lock meanwhile: a listener may call back into the sandbox over HTTP.
        took_lock = []

        def probe():
            took_lock.append(sandbox.lock.acquire(timeout=1))
            sandbox.lock.release()

        prober = threading.Thread(target=probe)
        prober.start()
        prober.join()
        heard.append((sandbox.clock_offset, took_lock == [True]))

    own_sandbox.sandbox.add_clock_listener(listener)
    SandboxClient(own_sandbox.url).advance_clock(60)
    SandboxClient(own_sandbox.url).advance_clock(30)

    assert heard == [(60, True), (90, True)]


# --- state snapshots -----------------------------------------------------------------


def test_a_snapshot_restores_a_sandbox_that_answers_the_same(url, sandbox):
    stable = fetch_stable_token(url)["access_token"]
    minted = sandbox.mint_login_code(unionid="o6_union")
    sandbox.block_user("oBlockedUser")
    sandbox.add_fault("/" + TOKEN, errcode=45009)
    sandbox.advance_clock(120)

    snapshot = requests.get(url + "sandbox/state", timeout=TIMEOUT)
    sandbox.reset()
    assert call_with_token(url, stable)["errcode"] == 40001
    restored = requests.put(url + "sandbox/state", data=snapshot.content, timeout=TIMEOUT)

    app_secrets = (settings.WECHAT_OFFICIAL_ACCOUNT_SECRET, settings.WECHAT_MINI_PROGRAM_SECRET)
    for secret in (stable, minted["code"], *app_secrets):
        assert secret not in snapshot.text
    assert restored.status_code == 200
    assert requests.get(url + "sandbox/clock", timeout=TIMEOUT).json()["offset"] == 120
    assert works(url, stable)
    assert fetch_token(url)["errcode"] == 45009  # the waiting fault came back
    session = login(url, minted["code"])
    assert (session["openid"], session["unionid"]) == (minted["openid"], "o6_union")
    assert login(url, minted["code"])["errcode"] == 40163
    assert login(url, sandbox.mint_login_code(openid="oBlockedUser")["code"])["errcode"] == 40226
    assert requests.get(url + "sandbox/state", timeout=TIMEOUT).json()["apps"] == snapshot.json()["apps"]
    # The stable token's value was never in the snapshot: the next stable_token call issues a new one.
    assert fetch_stable_token(url)["access_token"] != stable
    assert works(url, stable)


def test_a_snapshot_moves_to_another_sandbox(url, sandbox, own_sandbox):
    token = fetch_token(url)["access_token"]
    other = SandboxClient(own_sandbox.url)

    other.restore_state(sandbox.state(include_received=True))

    # Every app the session's sandbox knows, the settings' two among them (other tests register more).
    assert (
        {app["appid"] for app in other.apps()}
        == {app["appid"] for app in sandbox.apps()}
        >= {
            settings.WECHAT_OFFICIAL_ACCOUNT_APPID,
            settings.WECHAT_MINI_PROGRAM_APPID,
        }
    )
    assert works(own_sandbox.url, token)
    assert "access_token" in fetch_token(own_sandbox.url)  # the secret's digest verifies the same secret
    assert [call["path"] for call in SandboxClient(own_sandbox.url).received()][:1] == ["/" + TOKEN]


def test_a_feature_part_without_the_snapshot_protocol_is_named_not_silently_dropped(own_sandbox):
    class UnsavedFeatureState:
        pass

    with own_sandbox.sandbox.lock:
        own_sandbox.sandbox.part(UnsavedFeatureState)

    response = requests.get(own_sandbox.url + "sandbox/state", timeout=TIMEOUT)

    assert response.status_code == 500
    assert "not registered with @snapshot_part: " in response.json()["errmsg"]
    assert "UnsavedFeatureState" in response.json()["errmsg"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda state: state.update(version=2), "version must be 1"),
        (lambda state: state.update(parts={"nonsense": {}}), "unknown part 'nonsense'"),
        (lambda state: state.update(clock_offset="soon"), "clock_offset must be a number"),
        (lambda state: state.pop("apps"), "not a sandbox snapshot"),
        (lambda state: state["apps"][0].update(secret_sha256="plain-secret"), "SHA-256 hex digest"),
        (lambda state: state.update(faults=[{"id": 1, "path": "/cgi-bin/token", "errcode": "X"}]), "an integer"),
    ],
)
def test_a_bad_snapshot_is_refused_and_changes_nothing(url, sandbox, change, message):
    token = fetch_token(url)["access_token"]
    state = requests.get(url + "sandbox/state", timeout=TIMEOUT).json()
    change(state)

    refused = requests.put(url + "sandbox/state", data=json.dumps(state), timeout=TIMEOUT)

    assert refused.status_code == 400
    assert message in refused.json()["errmsg"]
    assert works(url, token)


# --- control input and the control API's own errors -------------------------------------


@pytest.mark.parametrize(
    "method, path, body, message",
    [
        ("POST", "faults", {"path": "/cgi-bin/token"}, "needs errcode, http_status, drop or delay"),
        ("POST", "faults", {"path": "cgi-bin/token", "errcode": -1}, "must be a WeChat path"),
        ("POST", "faults", {"path": "/sandbox/reset", "errcode": -1}, "must be a WeChat path"),
        ("POST", "faults", {"path": "/sandbox//reset/", "errcode": -1}, "must be a WeChat path"),
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
        ("POST", "apps", {"appid": ["wxa"], "secret": "s", "kind": "mini_program"}, "appid must be a non-empty"),
        ("POST", "clock", {"advance": -400 * 86400}, "advance must be between"),
        ("POST", "clock", {}, "advance is required"),
        ("PUT", "latency", {"seconds": 11}, "seconds must be between"),
        ("PUT", "latency", {"seconds": "0.03"}, "seconds must be a number"),
        ("PUT", "latency", {}, "seconds is required"),
        ("POST", "tokens/expire", {"appid": "wxnotregistered00"}, "no app 'wxnotregistered00'"),
    ],
)
def test_bad_control_input_is_a_400_saying_why(url, sandbox, method, path, body, message):
    response = requests.request(method, f"{url}sandbox/{path}", json=body, timeout=TIMEOUT)

    assert response.status_code == 400
    assert response.json()["errcode"] == 400
    assert message in response.json()["errmsg"]


@pytest.mark.parametrize("body", [b"{oops", b"[1, 2]", b'"text"', b"[" * 5000])
def test_control_bodies_must_be_json_objects(url, body, sandbox):
    response = requests.post(url + "sandbox/faults", data=body, timeout=TIMEOUT)

    assert response.status_code == 400
    assert "JSON" in response.json()["errmsg"]


def test_unknown_control_paths_and_methods_are_json_errors(url, sandbox):
    missing = requests.get(url + "sandbox/nothing-here", timeout=TIMEOUT)
    wrong_method = requests.put(url + "sandbox/faults", timeout=TIMEOUT)
    too_large = requests.post(url + "sandbox/faults", data=b"x" * (2 * 1024 * 1024 + 1), timeout=TIMEOUT)

    assert missing.status_code == 404
    assert missing.json()["errcode"] == 404
    assert wrong_method.status_code == 405
    assert "DELETE, GET, POST" in wrong_method.json()["errmsg"]
    assert too_large.status_code == 413
    assert too_large.json()["errcode"] == 413
    assert sandbox.received() == []


def test_the_client_reports_refusals_with_the_sandboxs_message(sandbox):
    with pytest.raises(SandboxControlError) as refused:
        sandbox.add_fault("/cgi-bin/token")

    assert refused.value.status == 400
    assert "needs errcode, http_status, drop or delay" in str(refused.value)


def test_the_control_api_survives_concurrent_hammering(own_sandbox):
    """Apps registered and removed while others read the index, reset and snapshot: never a 5xx."""
    base = own_sandbox.url
    deadline = time.monotonic() + 2
    statuses: list[int] = []
    failures: list[BaseException] = []

    def hammer(worker: int) -> None:
        calls = [
            lambda n: requests.post(
                base + "sandbox/apps",
                json={"appid": f"wx{worker}x{n % 5}", "secret": "s", "kind": "mini_program"},
                timeout=TIMEOUT,
            ),
            lambda n: requests.get(base + "sandbox/", timeout=TIMEOUT),
            lambda n: requests.post(base + "sandbox/reset", timeout=TIMEOUT),
            lambda n: requests.get(base + "sandbox/apps", timeout=TIMEOUT),
            lambda n: requests.delete(base + f"sandbox/apps/wx{(worker + 1) % 8}x{n % 5}", timeout=TIMEOUT),
            lambda n: requests.get(base + "sandbox/state", timeout=TIMEOUT),
            lambda n: requests.post(base + "sandbox/miniprogram/codes", json={"appid": "wxmini"}, timeout=TIMEOUT),
        ]
        n = 0
        try:
            while time.monotonic() < deadline:
                statuses.append(calls[n % len(calls)](n).status_code)
                n += 1
        except BaseException as error:  # noqa: BLE001 - reported below, with the statuses
            failures.append(error)

    threads = [threading.Thread(target=hammer, args=(worker,)) for worker in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT + 5)

    assert failures == []
    assert len(statuses) >= 50
    assert all(status < 500 for status in statuses), sorted(set(statuses))


def test_a_snapshot_restored_where_it_was_taken_keeps_signing_callbacks(url, sandbox):
    """Snapshots hold only digests of callback tokens and AES keys; the sandbox that still knows them keeps them."""
    sandbox.register_app(
        appid="wx00000000000000c1",
        secret="callback-app-secret",
        kind="official_account",
        callback={"url": "http://127.0.0.1:9/wechat/oa/wx00000000000000c1/", "mode": "plain", "token": "tok123"},
    )
    snapshot = requests.get(url + "sandbox/state", timeout=TIMEOUT)
    sandbox.reset()

    requests.put(url + "sandbox/state", data=snapshot.content, timeout=TIMEOUT).raise_for_status()

    restored = {app["appid"]: app for app in requests.get(url + "sandbox/state", timeout=TIMEOUT).json()["apps"]}
    assert restored["wx00000000000000c1"]["callback"]["token_sha256"] is not None
    assert (
        restored["wx00000000000000c1"] == {app["appid"]: app for app in snapshot.json()["apps"]}["wx00000000000000c1"]
    )
    sandbox.remove_app("wx00000000000000c1")
