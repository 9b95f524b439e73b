"""Injected faults over real HTTP: WeChat's errors in the route's protocol, HTTP failures, delays and drops."""

import threading
import time
import xml.etree.ElementTree as ElementTree

import pytest
import requests

from tests.wechat_sandbox.calls import (
    IPS,
    LOGIN,
    TIMEOUT,
    TOKEN,
    assert_wechat_error,
    call_with_token,
    fetch_stable_token,
    fetch_token,
    login,
    works,
)
from wechat_sandbox.client import SandboxControlError


def test_an_errcode_fault_answers_like_wechat_for_the_given_number_of_requests(url, sandbox):
    token = fetch_token(url)["access_token"]
    fault = sandbox.add_fault("/" + IPS, errcode=-1, times=2)

    answers = [call_with_token(url, token) for _ in range(3)]

    assert fault["times"] == 2 and fault["id"]
    for answer in answers[:2]:
        assert_wechat_error(answer, -1, "system error")
    assert answers[0]["errmsg"] != answers[1]["errmsg"]  # each answer has its own rid
    assert answers[2] == {"ip_list": ["127.0.0.1"]}
    assert [call["errcode"] for call in sandbox.received("/" + IPS)] == [-1, -1, None]


@pytest.mark.parametrize(
    "errcode, errmsg",
    [
        pytest.param(45009, "reach max api daily quota limit", id="45009 全局返回码"),
        pytest.param(45011, "api minute-quota reach limit  mustslower  retry next minute", id="45011 code2Session"),
        pytest.param(40001, "invalid credential, access_token is invalid or not latest", id="40001 全局返回码"),
        pytest.param(40164, "invalid ip, not in whitelist", id="40164 getAccessToken 错误码"),
        pytest.param(48001, "api unauthorized", id="48001 全局返回码"),
    ],
)
def test_errcode_faults_carry_wechats_errmsg(url, sandbox, errcode, errmsg):
    sandbox.add_fault("/" + TOKEN, errcode=errcode)

    assert_wechat_error(fetch_token(url), errcode, errmsg)


def test_an_errcode_fault_with_its_own_errmsg(url, sandbox):
    sandbox.add_fault("/" + LOGIN, errcode=40163, errmsg="code been used")

    assert_wechat_error(login(url, "anything"), 40163, "code been used")


def test_faults_apply_first_added_first_and_only_to_their_path(url, sandbox):
    sandbox.add_fault("/" + TOKEN, errcode=45009)
    sandbox.add_fault("/" + TOKEN, errcode=-1)

    token = fetch_stable_token(url)["access_token"]  # another path: untouched

    assert works(url, token)
    assert [fetch_token(url).get("errcode") for _ in range(3)] == [45009, -1, None]


@pytest.mark.parametrize(
    "fault_path, request_path",
    [("/cgi-bin/token", "cgi-bin/token/"), ("/cgi-bin/token/", "cgi-bin/token"), ("/cgi-bin//token", "cgi-bin/token")],
)
def test_a_trailing_or_doubled_slash_neither_escapes_nor_misses_a_fault(url, sandbox, fault_path, request_path):
    sandbox.add_fault(fault_path, errcode=-1)

    answer = requests.get(url + request_path, timeout=TIMEOUT).json()

    assert answer["errcode"] == -1
    assert sandbox.received("/cgi-bin/token")[0]["errcode"] == -1


def test_a_delay_fault_slows_the_answer_without_blocking_other_requests(url, sandbox):
    token = fetch_token(url)["access_token"]
    sandbox.add_fault("/" + IPS, delay=0.8)
    slow: dict = {}
    fast: dict = {}

    def call_slowly():
        started = time.monotonic()
        slow["answer"] = call_with_token(url, token)
        slow["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=call_slowly)
    thread.start()
    while not sandbox.received("/" + IPS):  # the slow request has arrived and taken the fault
        time.sleep(0.01)
    fast["works"] = works(url, token)
    fast["while_slow_was_waiting"] = thread.is_alive()
    thread.join(timeout=TIMEOUT)

    assert slow["answer"] == {"ip_list": ["127.0.0.1"]}
    assert slow["seconds"] >= 0.8
    assert fast == {"works": True, "while_slow_was_waiting": True}


def test_a_delay_combines_with_an_errcode(url, sandbox):
    sandbox.add_fault("/" + TOKEN, delay=0.2, errcode=-1)

    started = time.monotonic()
    answer = fetch_token(url)

    assert time.monotonic() - started >= 0.2
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

    with pytest.raises(requests.ConnectionError):
        requests.get(url + TOKEN, timeout=5)  # refused at once: a timeout would raise Timeout, not this

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


# --- WeChat Pay's protocol ----------------------------------------------------------


def pay_answer(response: requests.Response) -> dict:
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/xml")
    return {element.tag: element.text for element in ElementTree.fromstring(response.content)}


def test_a_pay_fault_answers_wechat_pays_xml_with_a_text_err_code(url, sandbox):
    """支付 v2 "统一下单, 返回结果": a business failure is return_code SUCCESS, result_code FAIL, err_code(_des)."""
    sandbox.add_fault("/pay/unifiedorder", errcode="SYSTEMERROR")

    answer = pay_answer(requests.post(url + "pay/unifiedorder", data="<xml></xml>", timeout=TIMEOUT))

    assert answer == {
        "return_code": "SUCCESS",
        "return_msg": "OK",
        "result_code": "FAIL",
        "err_code": "SYSTEMERROR",
        "err_code_des": "系统错误",
    }
    assert sandbox.received("/pay/unifiedorder")[0]["errcode"] == "SYSTEMERROR"


def test_an_unknown_pay_path_answers_in_wechat_pays_xml(url, sandbox):
    answer = pay_answer(requests.post(url + "pay/nosuchthing", data="<xml></xml>", timeout=TIMEOUT))

    assert answer == {"return_code": "FAIL", "return_msg": "invalid url"}


@pytest.mark.parametrize(
    "path, errcode, message",
    [
        ("/pay/unifiedorder", -1, "must be a WeChat Pay err_code"),
        ("/pay/unifiedorder", "systemerror", "must be a WeChat Pay err_code"),
        ("/cgi-bin/token", "SYSTEMERROR", "must be an integer"),
        ("/cgi-bin/token", 2**31, "32-bit"),
        ("/cgi-bin/token", 0, "errcode 0 is success"),
    ],
)
def test_a_faults_code_must_fit_the_paths_protocol(sandbox, path, errcode, message):
    with pytest.raises(SandboxControlError, match=message) as refused:
        sandbox.add_fault(path, errcode=errcode)

    assert refused.value.status == 400
