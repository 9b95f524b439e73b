"""The settings' merchant on APIv3 (WECHAT_PAY_API_VERSION=v3): its row follows the settings' credentials.

In development the sandbox writes them (a description file and the key files) afresh at each start,
so the row must follow a new set without a restart of ours; v2 settings leave the row alone.
"""

import json
import os

import pytest

from tests.wechat.test_merchants import rsa_pems
from wechat.merchants import merchants_for_wechatpay_serial, mini_program_default
from wechat.models import Merchant

pytestmark = pytest.mark.django_db


def _write_credentials(directory, *, apiv3_key: str, public_key_id: str, mtime: int | None = None) -> dict:
    private, public = rsa_pems()
    (directory / "key.pem").write_text(private)
    (directory / "pub_key.pem").write_text(public)
    description = {
        "mch_id": "10000100",
        "certificate_serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        "wechatpay_public_key_id": public_key_id,
        "apiv3_key": apiv3_key,
        "private_key_path": str(directory / "key.pem"),
        "certificate_path": str(directory / "cert.pem"),
        "wechatpay_public_key_path": str(directory / "pub_key.pem"),
    }
    path = directory / "merchant-v3.json"
    path.write_text(json.dumps(description))
    if mtime is not None:
        os.utime(path, ns=(mtime, mtime))
    return {"private": private, "public": public, "path": path}


def test_v3_settings_make_the_settings_merchant_v3_with_the_files_credentials(settings, tmp_path):
    written = _write_credentials(tmp_path, apiv3_key="a" * 32, public_key_id="PUB_KEY_ID_0110000000000000000000000001")
    settings.WECHAT_PAY_API_VERSION = "v3"
    settings.WECHAT_PAY_V3_CREDENTIALS_FILE = str(written["path"])

    merchant = mini_program_default().merchant

    merchant = Merchant.objects.get(pk=merchant.pk)  # as saved, through the encrypted fields
    assert (merchant.api_version, merchant.verification) == ("v3", "public_key")
    assert merchant.apiv3_key == "a" * 32
    assert merchant.wechatpay_public_key_id == "PUB_KEY_ID_0110000000000000000000000001"
    assert (merchant.private_key, merchant.wechatpay_public_key) == (written["private"], written["public"])
    assert merchant.api_key == settings.WECHAT_PAY_API_KEY  # v2's key kept: the merchant can go back


def test_keys_issued_afresh_replace_the_rows_and_the_new_serial_finds_the_merchant(settings, tmp_path):
    first = _write_credentials(tmp_path, apiv3_key="a" * 32, public_key_id="PUB_KEY_ID_0110000000000000000000000001")
    settings.WECHAT_PAY_API_VERSION = "v3"
    settings.WECHAT_PAY_V3_CREDENTIALS_FILE = str(first["path"])
    mini_program_default()

    # The sandbox restarted: new keys, a new public key id (and a file written later).
    second = _write_credentials(
        tmp_path,
        apiv3_key="b" * 32,
        public_key_id="PUB_KEY_ID_0110000000000000000000000002",
        mtime=first["path"].stat().st_mtime_ns + 10**9,
    )

    [found] = merchants_for_wechatpay_serial("PUB_KEY_ID_0110000000000000000000000002")
    assert (found.apiv3_key, found.wechatpay_public_key) == ("b" * 32, second["public"])
    assert merchants_for_wechatpay_serial("PUB_KEY_ID_0110000000000000000000000001") == []


def test_v2_settings_or_no_file_yet_leave_the_row_as_it_is(settings, tmp_path):
    written = _write_credentials(tmp_path, apiv3_key="a" * 32, public_key_id="PUB_KEY_ID_0110000000000000000000000001")
    settings.WECHAT_PAY_V3_CREDENTIALS_FILE = str(written["path"])
    assert mini_program_default().merchant.api_version == "v2"  # WECHAT_PAY_API_VERSION is v2

    settings.WECHAT_PAY_API_VERSION = "v3"
    settings.WECHAT_PAY_V3_CREDENTIALS_FILE = str(tmp_path / "not-written-yet.json")
    assert mini_program_default().merchant.api_version == "v2"
