"""The sandbox server over real HTTP: WeChat's protocol errors, path normalisation, redaction, read timeouts.

Protocol errors follow 公众号 "全局返回码说明" (and 微信小店 "公共错误码"): 40066 invalid url,
43001 require GET method, 43002 require POST method, 44002 empty post data, 45002 content
size out of limit, 47001 data format error — all at HTTP 200, as WeChat answers errors.
"""

import logging
import socket
import time

import pytest
import requests
from django.conf import settings
from wechatpy import WeChatClient

from tests.wechat_sandbox.calls import (
    IPS,
    LOGIN,
    RID,
    STABLE_TOKEN,
    TIMEOUT,
    TOKEN,
    assert_wechat_error,
    fetch_stable_token,
    fetch_token,
    login,
)
from wechat_sandbox.redaction import fingerprint
from wechat_sandbox.server import SandboxApp, start_in_thread


@pytest.mark.parametrize(
    "method, path, errcode, errmsg",
    [
        pytest.param("POST", TOKEN, 43001, "require GET method", id="43001 POST on a GET endpoint"),
        pytest.param("DELETE", LOGIN, 43001, "require GET method", id="43001 DELETE"),
        pytest.param("GET", STABLE_TOKEN, 43002, "require POST method", id="43002 GET on a POST endpoint"),
        pytest.param("PUT", STABLE_TOKEN, 43002, "require POST method", id="43002 PUT"),
        pytest.param("GET", "cgi-bin/no/such/thing", 40066, "invalid url", id="40066 unknown path"),
        pytest.param("POST", "wxa/nothing", 40066, "invalid url", id="40066 unknown POST path"),
    ],
)
def test_protocol_errors_answer_http_200_with_an_errcode(url, sandbox, method, path, errcode, errmsg):
    response = requests.request(method, url + path, timeout=TIMEOUT)

    assert response.status_code == 200
    assert_wechat_error(response.json(), errcode, errmsg)
    assert sandbox.received("/" + path)[0]["errcode"] == errcode


def test_every_wechat_path_answers_http_200_in_its_protocol_whatever_the_input(url, sandbox):
    """No method, body or parameter makes a WeChat path answer anything but WeChat's own shape."""
    paths = [TOKEN, STABLE_TOKEN, IPS, LOGIN, "wxa/checksession", "cgi-bin/nothing", "pay/unifiedorder"]
    bodies = [None, b"null", b"[1]", b'{"appid": [1], "secret": {}, "grant_type": 5, "force_refresh": null}', b"\xff"]
    query = {"appid": "wx", "secret": "s", "js_code": "c", "grant_type": "x", "access_token": "A" * 80, "openid": "o"}
    answers = []
    for method in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        for path in paths:
            for body in bodies:
                response = requests.request(method, url + path, data=body, params=query, timeout=TIMEOUT)
                answers.append((method, path, body, response.status_code, response.headers["Content-Type"]))

    assert [answer for answer in answers if answer[3] != 200] == []
    assert {content_type for *_, content_type in answers} == {
        "application/json; charset=utf-8",
        "text/xml; charset=utf-8",
    }


def test_head_issues_no_token(url, sandbox):
    response = requests.head(
        url + TOKEN,
        params={
            "grant_type": "client_credential",
            "appid": settings.WECHAT_OFFICIAL_ACCOUNT_APPID,
            "secret": settings.WECHAT_OFFICIAL_ACCOUNT_SECRET,
        },
        timeout=TIMEOUT,
    )
    state = requests.get(url + "sandbox/state", timeout=TIMEOUT).json()

    assert response.status_code == 200
    assert response.content == b""
    assert sandbox.received("/" + TOKEN)[0]["errcode"] == 43001
    assert state["parts"].get("tokens", {"tokens": []})["tokens"] == []


def test_a_body_over_the_limit_is_content_size_out_of_limit(url, sandbox):
    body = b'{"grant_type": "client_credential", "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'

    response = requests.post(url + STABLE_TOKEN, data=body, timeout=TIMEOUT)

    assert response.status_code == 200
    assert_wechat_error(response.json(), 45002, "content size out of limit")
    assert sandbox.received("/" + STABLE_TOKEN)[0]["errcode"] == 45002


def test_a_url_over_the_limit_is_content_size_out_of_limit(url, sandbox):
    response = requests.get(url + TOKEN, params={"appid": "wx" + "x" * 10_000}, timeout=TIMEOUT)

    assert response.status_code == 200
    assert_wechat_error(response.json(), 45002, "content size out of limit")


def test_every_error_has_its_own_rid_starting_with_the_time(url, sandbox):
    before = int(time.time())
    rids = {fetch_token(url, secret="wrong")["errmsg"].rpartition(", rid: ")[2] for _ in range(5)}

    assert len(rids) == 5
    assert all(RID.fullmatch(rid) for rid in rids)
    assert all(before - 1 <= int(rid[:8], 16) <= time.time() + 1 for rid in rids)


def test_a_trailing_slash_is_the_same_endpoint_and_the_same_log_path(url, sandbox):
    answer = requests.get(
        url + TOKEN + "/",
        params={
            "grant_type": "client_credential",
            "appid": settings.WECHAT_OFFICIAL_ACCOUNT_APPID,
            "secret": settings.WECHAT_OFFICIAL_ACCOUNT_SECRET,
        },
        timeout=TIMEOUT,
    ).json()

    assert "access_token" in answer
    assert [call["path"] for call in sandbox.received("/" + TOKEN)] == ["/" + TOKEN]
    assert len(sandbox.received("/" + TOKEN + "/")) == 1


# --- secrets stay out of logs -------------------------------------------------------


def test_secrets_codes_and_tokens_are_fingerprinted_in_the_received_log(url, sandbox):
    code = sandbox.mint_login_code()["code"]
    session = login(url, code)
    token = fetch_stable_token(url)["access_token"]
    requests.get(url + IPS, params={"access_token": token}, timeout=TIMEOUT)

    received = sandbox.received()
    logged = requests.get(url + "sandbox/received", timeout=TIMEOUT).text

    for secret in (settings.WECHAT_MINI_PROGRAM_SECRET, settings.WECHAT_OFFICIAL_ACCOUNT_SECRET, code, token):
        assert secret not in logged
    assert session["session_key"] not in logged
    assert received[0]["query"]["js_code"] == fingerprint(code)
    assert received[0]["query"]["secret"] == fingerprint(settings.WECHAT_MINI_PROGRAM_SECRET)
    assert received[0]["query"]["appid"] == settings.WECHAT_MINI_PROGRAM_APPID
    assert f'"secret": "{fingerprint(settings.WECHAT_OFFICIAL_ACCOUNT_SECRET)}"' in received[1]["body"]
    assert received[2]["query"]["access_token"] == fingerprint(token)


def test_a_malformed_body_still_hides_its_secret(url, sandbox):
    requests.post(url + STABLE_TOKEN, data='{"secret": "s3cr3t-value", oops', timeout=TIMEOUT)

    body = sandbox.received("/" + STABLE_TOKEN)[0]["body"]

    assert "s3cr3t-value" not in body
    assert fingerprint("s3cr3t-value") in body


def test_a_secret_name_spelled_with_escapes_or_capitals_is_still_fingerprinted(url, sandbox):
    body = '{"appid": "wx1", "\\u0073ecret": "escaped-value", "nested": [{"SECRET": "capital-value"}]}'
    requests.post(url + STABLE_TOKEN, data=body, timeout=TIMEOUT)
    requests.post(url + STABLE_TOKEN, data='{"appid": "wx1", "grant_type": "client_credential"}', timeout=TIMEOUT)

    escaped, plain = (call["body"] for call in sandbox.received("/" + STABLE_TOKEN))

    assert "escaped-value" not in escaped and fingerprint("escaped-value") in escaped
    assert "capital-value" not in escaped and fingerprint("capital-value") in escaped
    assert plain == '{"appid": "wx1", "grant_type": "client_credential"}'  # nothing to hide: kept as received


def test_the_access_log_never_shows_a_secret(url, sandbox, caplog):
    code = sandbox.mint_login_code()["code"]
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        login(url, code)
        token = fetch_token(url)["access_token"]
        requests.get(url + IPS, params={"access_token": token}, timeout=TIMEOUT)

    lines = [record.getMessage() for record in caplog.records if record.name == "werkzeug"]
    assert any("/sns/jscode2session" in line and fingerprint(code) in line for line in lines)
    assert any(fingerprint(token) in line for line in lines)
    for secret in (code, token, settings.WECHAT_MINI_PROGRAM_SECRET, settings.WECHAT_OFFICIAL_ACCOUNT_SECRET):
        assert all(secret not in line for line in lines)


def test_a_malformed_request_line_is_logged_without_its_secret(url, sandbox_server, caplog):
    host, port = sandbox_server.server.server_address[:2]
    with caplog.at_level(logging.INFO, logger="werkzeug"), socket.create_connection((host, port), TIMEOUT) as raw:
        raw.sendall(b"GET /cgi-bin/token?secret=hunter2-secret BAD/9.9 extra\r\n\r\n")
        answer = raw.recv(1024)
        deadline = time.monotonic() + TIMEOUT
        while "hunter2" not in caplog.text and fingerprint("hunter2-secret") not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.01)

    assert b"400" in answer  # http.server's own refusal: this is not HTTP the sandbox can route
    assert "hunter2-secret" not in caplog.text
    assert fingerprint("hunter2-secret") in caplog.text


# --- a stalled client ------------------------------------------------------------------


def test_a_client_sending_less_than_its_content_length_is_dropped_after_the_read_timeout():
    running = start_in_thread(apps=[SandboxApp(appid="wxmini", secret="s", kind="mini_program")], read_timeout=0.5)
    try:
        host, port = running.server.server_address[:2]
        stalled = socket.create_connection((host, port), timeout=TIMEOUT)
        stalled.sendall(
            b"POST /cgi-bin/stable_token HTTP/1.1\r\nHost: sandbox\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{}"
        )
        started = time.monotonic()

        served_meanwhile = requests.get(running.url + "sandbox/", timeout=TIMEOUT).status_code
        closed = stalled.recv(1024)

        assert served_meanwhile == 200
        assert closed == b""  # the server hung up without an answer
        assert time.monotonic() - started < TIMEOUT
        stalled.close()
    finally:
        running.stop()


# --- wechatpy against the sandbox ------------------------------------------------------


class SandboxWeChatClient(WeChatClient):
    """wechatpy's client with the sandbox as its host (our wechat/clients.py changes more: see the README)."""

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
