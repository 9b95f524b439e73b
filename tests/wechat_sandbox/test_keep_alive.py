"""The sandbox keeps HTTP/1.1 connections open between requests, as WeChat's servers do (wechat_sandbox/keep_alive.py).

Each test speaks HTTP on its own connection (http.client, or a raw socket where the bytes matter),
so what it sees is the server's doing: an answer that keeps the connection, one that closes it.
"""

import http.client
import json
import socket
import ssl
import time

import pytest
import requests
from django.conf import settings

from tests.wechat_sandbox.calls import IPS, TIMEOUT, TOKEN, fetch_token
from wechat.clients import official_account_client
from wechat.official_account_followers import follower_infos
from wechat_sandbox.client import SandboxClient
from wechat_sandbox.server import SandboxApp, sandbox_apps_from_settings, start_in_thread


def _connection(url: str) -> http.client.HTTPConnection:
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    return http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)


def _token_path() -> str:
    return (
        f"/{TOKEN}?grant_type=client_credential&appid={settings.WECHAT_OFFICIAL_ACCOUNT_APPID}"
        f"&secret={settings.WECHAT_OFFICIAL_ACCOUNT_SECRET}"
    )


def _raw_answer(raw: socket.socket) -> bytes:
    """One whole answer read off a raw socket (its head and the Content-Length bytes after it)."""
    received = b""
    while b"\r\n\r\n" not in received:
        chunk = raw.recv(65536)
        assert chunk, f"the server closed the connection after {received!r}"
        received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += raw.recv(65536)
    return head + b"\r\n\r\n" + body


def test_two_requests_on_one_connection_get_two_answers(url, sandbox):
    connection = _connection(url)
    try:
        connection.request("GET", _token_path())
        first = connection.getresponse()
        token = first.read()
        kept = connection.sock
        connection.request("GET", f"/{IPS}?access_token=" + json.loads(token)["access_token"])
        second = connection.getresponse()

        assert first.status == 200 and first.getheader("Connection") is None and not first.will_close
        assert second.status == 200 and second.read() == b'{"ip_list": ["127.0.0.1"]}'
        assert connection.sock is kept  # the same socket carried both
        assert [len(sandbox.received("/" + path)) for path in (TOKEN, IPS)] == [1, 1]
    finally:
        connection.close()


def test_a_posted_body_read_whole_keeps_the_connection(url, sandbox):
    connection = _connection(url)
    try:
        for _ in range(3):
            connection.request(
                "POST", f"/{IPS}", body=b'{"some": "body"}', headers={"Content-Type": "application/json"}
            )
            answer = connection.getresponse()
            answer.read()
            assert not answer.will_close
        assert len(sandbox.received("/" + IPS)) == 3
    finally:
        connection.close()


def test_a_client_asking_to_close_is_answered_then_closed(url, sandbox):
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    with socket.create_connection((host, int(port)), TIMEOUT) as raw:
        raw.sendall(f"GET {_token_path()} HTTP/1.1\r\nHost: sandbox\r\nConnection: close\r\n\r\n".encode())
        answer = _raw_answer(raw)

        assert answer.startswith(b"HTTP/1.1 200") and b"\r\nConnection: close\r\n" in answer
        assert b"access_token" in answer
        assert raw.recv(1024) == b""  # then the server hung up


def test_an_http_1_0_client_is_answered_then_closed(url, sandbox):
    host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
    with socket.create_connection((host, int(port)), TIMEOUT) as raw:
        raw.sendall(f"GET {_token_path()} HTTP/1.0\r\nHost: sandbox\r\n\r\n".encode())
        answer = _raw_answer(raw)

        assert b"\r\nConnection: close\r\n" in answer and b"access_token" in answer
        assert raw.recv(1024) == b""


def test_a_body_left_unread_closes_the_connection_after_its_answer(url, sandbox):
    """A body over the route's limit is not read: where the next request would begin is unknown, so it closes."""
    connection = _connection(url)
    try:
        connection.request("POST", "/cgi-bin/stable_token", body=b"x" * (3 * 1024 * 1024))
        answer = connection.getresponse()

        assert answer.getheader("Connection") == "close" and answer.will_close
        assert b"45002" in answer.read()
    finally:
        connection.close()


def test_a_drop_fault_drops_a_kept_connection_and_the_next_call_gets_a_new_one(url, sandbox):
    connection = _connection(url)
    try:
        connection.request("GET", _token_path())
        connection.getresponse().read()
        sandbox.add_fault("/" + TOKEN, drop=True)

        connection.request("GET", _token_path())
        with pytest.raises(http.client.RemoteDisconnected):
            connection.getresponse()  # the kept connection closed without a byte of answer

        assert len(sandbox.received("/" + TOKEN)) == 2
        assert "access_token" in fetch_token(url)
    finally:
        connection.close()


def test_a_requests_session_reuses_its_connection_until_a_drop_then_reconnects(url, sandbox):
    session = requests.Session()
    params = {
        "grant_type": "client_credential",
        "appid": settings.WECHAT_OFFICIAL_ACCOUNT_APPID,
        "secret": settings.WECHAT_OFFICIAL_ACCOUNT_SECRET,
    }
    first = session.get(url + TOKEN, params=params, timeout=TIMEOUT)
    sandbox.add_fault("/" + TOKEN, drop=True)
    with pytest.raises(requests.ConnectionError):
        session.get(url + TOKEN, params=params, timeout=TIMEOUT)
    third = session.get(url + TOKEN, params=params, timeout=TIMEOUT)

    assert first.status_code == third.status_code == 200 and "access_token" in third.json()


def test_the_https_ports_keep_connections_too(sandbox_server, sandbox):
    host, port = sandbox_server.v3_url.removeprefix("https://").rstrip("/").rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(sandbox_server.tls.ca_path))
    connection = http.client.HTTPSConnection(host, int(port), timeout=TIMEOUT, context=context)
    try:
        answers = []
        for _ in range(2):
            connection.request("GET", "/sandbox/")
            answer = connection.getresponse()
            answer.read()
            answers.append(answer)
            kept = connection.sock
        assert [answer.status for answer in answers] == [200, 200]
        assert not answers[1].will_close and connection.sock is kept
    finally:
        connection.close()


# --- idle connections ------------------------------------------------------------------


@pytest.fixture
def idle_sandbox(settings):
    """A private sandbox closing kept connections after 0.3 s idle, with our settings pointed at it."""
    running = start_in_thread(apps=sandbox_apps_from_settings(), idle_timeout=0.3)
    settings.WECHAT_API_BASE_URL = running.url
    yield running
    running.stop()


def test_an_idle_kept_connection_is_closed_after_the_idle_timeout(idle_sandbox):
    host, port = idle_sandbox.server.server_address[:2]
    with socket.create_connection((host, port), TIMEOUT) as raw:
        raw.sendall(b"GET /sandbox/ HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        answer = _raw_answer(raw)
        started = time.monotonic()

        assert b"Connection: close" not in answer
        assert raw.recv(1024) == b""  # closed by the server, idle
        assert 0.2 < time.monotonic() - started < TIMEOUT


def test_a_batchget_on_a_connection_the_sandbox_closed_idle_goes_through(idle_sandbox):
    """Our client (wechatpy on a kept requests session) checks a pooled connection before a POST reuses it."""
    appid = settings.WECHAT_OFFICIAL_ACCOUNT_APPID
    openids = SandboxClient(idle_sandbox.url).add_followers(appid, count=150)["openids"]
    client = official_account_client()

    first = follower_infos(client, openids=openids[:100])
    time.sleep(0.6)  # the sandbox closes the kept connection meanwhile
    second = follower_infos(client, openids=openids[100:])

    assert [info.openid for info in first + second] == openids
    batchgets = SandboxClient(idle_sandbox.url).received("/cgi-bin/user/info/batchget")
    assert [call["errcode"] for call in batchgets] == [None, None]  # each made once: nothing failed, nothing retried


def test_stopping_closes_idle_kept_connections_at_once():
    running = start_in_thread(apps=[SandboxApp(appid="wxmini", secret="s", kind="mini_program")])
    host, port = running.server.server_address[:2]
    with socket.create_connection((host, port), TIMEOUT) as raw:
        raw.sendall(b"GET /sandbox/ HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        _raw_answer(raw)
        started = time.monotonic()
        running.stop()

        assert time.monotonic() - started < 2  # not the idle timeout (60 s): the waiting connection was closed
        assert raw.recv(1024) == b""
