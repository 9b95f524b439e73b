"""WeChat Pay merchants in the sandbox's control API: registered beside apps, never showing their API key.

微信支付 V2 开发文档, 安全规范 / 签名算法: the API key is 32 characters, kept by the merchant.
"""

import json

import pytest
import requests
from django.conf import settings

TIMEOUT = 10


def test_the_settings_merchant_is_registered_and_survives_a_reset_but_a_snapshot_keeps_only_a_digest(sandbox):
    registered = {"mch_id": settings.WECHAT_PAY_MCH_ID, "appid": settings.WECHAT_MINI_PROGRAM_APPID}
    assert {**registered, "api_key_set": True} in sandbox.merchants()

    snapshot = sandbox.state()
    sandbox.reset()
    assert {**registered, "api_key_set": True} in sandbox.merchants()

    assert settings.WECHAT_PAY_API_KEY not in json.dumps(snapshot)
    sandbox.restore_state(snapshot)
    assert {**registered, "api_key_set": False} in sandbox.merchants()  # register it again to sign with it


def test_merchants_are_registered_listed_without_keys_and_removed(sandbox_server, sandbox):
    url = sandbox_server.url
    mini_program = [app["appid"] for app in sandbox.apps() if app["kind"] == "mini_program"][0]
    key = "K" * 32

    created = requests.post(
        f"{url}sandbox/merchants", json={"mch_id": "1900000109", "api_key": key, "appid": mini_program}, timeout=TIMEOUT
    )

    assert created.status_code == 201
    assert created.json() == {"mch_id": "1900000109", "appid": mini_program, "api_key_set": True}
    listing = requests.get(f"{url}sandbox/merchants", timeout=TIMEOUT)
    assert {"mch_id": "1900000109", "appid": mini_program, "api_key_set": True} in listing.json()["merchants"]
    assert key not in listing.text
    assert requests.delete(f"{url}sandbox/merchants/1900000109", timeout=TIMEOUT).status_code == 200
    assert "1900000109" not in requests.get(f"{url}sandbox/merchants", timeout=TIMEOUT).text
    assert requests.delete(f"{url}sandbox/merchants/1900000109", timeout=TIMEOUT).status_code == 404


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"mch_id": "19x", "api_key": "K" * 32}, "mch_id"),
        ({"mch_id": "1900000109", "api_key": "short"}, "api_key"),
        ({"mch_id": "1900000109", "api_key": "K" * 32, "appid": "wxnobody"}, "wxnobody"),
    ],
)
def test_bad_merchants_are_refused(sandbox_server, sandbox, fields, reason):
    mini_program = [app["appid"] for app in sandbox.apps() if app["kind"] == "mini_program"][0]

    refused = requests.post(
        f"{sandbox_server.url}sandbox/merchants", json={"appid": mini_program, **fields}, timeout=TIMEOUT
    )

    assert refused.status_code == 400
    assert reason in refused.json()["errmsg"]
