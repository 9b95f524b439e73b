"""An AppSecret never reaches a log line, an error message or a traceback when WeChat fails the call carrying it.

cgi-bin/token and sns/jscode2session take the secret in their query string (every other call the
access token), so requests' own message about a failed request carries it: a traceback that chains
that exception to ours, logged by a worker or the web server, would print it.
"""

import logging
import traceback

import pytest

from wechat.clients import official_account_client
from wechat.errors import WeChatError
from wechat.miniprogram import code_to_session

TOKEN_PATHS = {"stable": "/cgi-bin/stable_token", "classic": "/cgi-bin/token"}
FAULTS = [{"http_status": 502}, {"http_status": 404}, {"drop": True}, {"errcode": 40125}]


def _leaks(secret: str, error: BaseException, log_text: str) -> list[str]:
    printed = "".join(traceback.format_exception(error))
    return [where for where, text in (("log", log_text), ("traceback", printed)) if secret in text]


@pytest.mark.parametrize("endpoint", ["stable", "classic"])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_token_request_logs_and_raises_no_secret(sandbox, settings, caplog, endpoint, fault):
    settings.WECHAT_TOKEN_ENDPOINT = endpoint
    sandbox.add_fault(TOKEN_PATHS[endpoint], times=5, **fault)
    caplog.set_level(logging.DEBUG)  # every logger: ours, wechatpy's, requests' and urllib3's

    with pytest.raises(WeChatError) as raised:
        official_account_client().token_store.get()

    secret = settings.WECHAT_OFFICIAL_ACCOUNT_SECRET
    assert len(secret) >= 16 and not _leaks(secret, raised.value, caplog.text)


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_login_code_exchange_logs_and_raises_no_secret(sandbox, settings, caplog, fault):
    sandbox.add_fault("/sns/jscode2session", times=5, **fault)
    caplog.set_level(logging.DEBUG)

    with pytest.raises(WeChatError) as raised:
        code_to_session(code="081xYz000abcDEF1234567890")

    secret = settings.WECHAT_MINI_PROGRAM_SECRET
    assert len(secret) >= 16 and not _leaks(secret, raised.value, caplog.text)
