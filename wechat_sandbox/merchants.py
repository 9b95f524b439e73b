"""WeChat Pay merchants, registered beside apps: the merchant id, its v2 API key and the app it collects for.

Each is also issued APIv3 keys as it is registered (pay_v3_keys.py): an APIv3 key (given, or
made up), its API private key and certificate, and WeChat Pay's key pair and platform certificate
for it; `v3_verification` says how WeChat Pay signs its answers to it ("public_key", the default, or
"platform_certificate").

The Pay endpoints (unified order, query, refund, bills) sign and verify with the
merchant's API key; they come with the payments work and find the merchant here.
The key must be kept in clear to sign with; it is never shown, and a snapshot keeps
only its digest (register the merchant again after a restore to sign with it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, ControlNotFound
from wechat_sandbox.pay_v3_keys import VERIFICATIONS, merchant_v3_keys_ensure
from wechat_sandbox.protocols import json_response
from wechat_sandbox.redaction import digest
from wechat_sandbox.routes import Route, path_argument
from wechat_sandbox.state import snapshot_part

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox

# 微信支付 V2 开发文档, 安全规范 / 签名算法: the API key set in the merchant platform is 32 characters.
API_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{32}")
# APIv3 文档, 开发必要参数说明 / APIv3密钥: 32 characters of letters and digits.
APIV3_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{32}")
# Merchant ids are digits (10 for merchants registered today; older and test ones are shorter).
MCH_ID_SHAPE = re.compile(r"[0-9]{6,12}")


@dataclass(frozen=True)
class SandboxMerchant:
    mch_id: str
    appid: str
    api_key: str | None = field(default=None, repr=False)  # None once restored from a snapshot
    api_key_sha256: str = field(default="", repr=False)

    def public(self) -> dict:
        """What the control API shows: never the API key."""
        return {"mch_id": self.mch_id, "appid": self.appid, "api_key_set": self.api_key is not None}


def merchant_from_fields(*, mch_id: str, api_key: str, appid: str) -> SandboxMerchant:
    if not MCH_ID_SHAPE.fullmatch(mch_id):
        raise BadControlInput("mch_id must be 6 to 12 digits")
    if not API_KEY_SHAPE.fullmatch(api_key):
        raise BadControlInput("api_key must be 32 letters and digits, as WeChat Pay's v2 API key is")
    return SandboxMerchant(mch_id=mch_id, appid=appid, api_key=api_key, api_key_sha256=digest(api_key))


@snapshot_part("merchants")
class Merchants:
    """The registered merchants by mch_id; like apps, they survive a reset. Use under the lock."""

    survives_reset: ClassVar[bool] = True

    def __init__(self) -> None:
        self.by_id: dict[str, SandboxMerchant] = {}

    def forget_app(self, appid: str) -> None:
        self.by_id = {mch_id: merchant for mch_id, merchant in self.by_id.items() if merchant.appid != appid}

    def to_snapshot(self) -> dict:
        return {
            "merchants": [
                {"mch_id": merchant.mch_id, "appid": merchant.appid, "api_key_sha256": merchant.api_key_sha256}
                for merchant in self.by_id.values()
            ]
        }

    @classmethod
    def from_snapshot(cls, data: dict) -> Merchants:
        merchants = cls()
        for entry in data["merchants"]:
            merchant = SandboxMerchant(
                mch_id=str(entry["mch_id"]), appid=str(entry["appid"]), api_key_sha256=str(entry["api_key_sha256"])
            )
            merchants.by_id[merchant.mch_id] = merchant
        return merchants


def register_merchant(sandbox: Sandbox, request: Request) -> Response:
    """POST {"mch_id", "api_key", "appid", "apiv3_key"?, "v3_verification"?}: a merchant of a registered app (201).

    Added or replaced. Its v3 keys are issued on first registration (or afresh when `apiv3_key` or
    `v3_verification` changes); GET /sandbox/tls names their files.
    """
    body = ControlInput(request, allowed={"mch_id", "api_key", "appid", "apiv3_key", "v3_verification"})
    merchant = merchant_from_fields(
        mch_id=body.text("mch_id", required=True),
        api_key=body.text("api_key", required=True),
        appid=body.text("appid", required=True),
    )
    apiv3_key, verification = body.text("apiv3_key"), body.text("v3_verification")
    if apiv3_key is not None and not APIV3_KEY_SHAPE.fullmatch(apiv3_key):
        raise BadControlInput("apiv3_key must be 32 letters and digits, as WeChat Pay's APIv3 key is")
    if verification is not None and verification not in VERIFICATIONS:
        raise BadControlInput(f"v3_verification must be one of {', '.join(VERIFICATIONS)}")
    with sandbox.lock:
        sandbox.registered_app(merchant.appid)
        sandbox.part(Merchants).by_id[merchant.mch_id] = merchant
    if sandbox.tls_authority is not None:  # its certificate for secapi/ (GET /sandbox/tls names the files)
        sandbox.tls_authority.merchant_certificate(merchant.mch_id)
    merchant_v3_keys_ensure(sandbox, merchant.mch_id, apiv3_key=apiv3_key, verification=verification)
    return json_response(merchant.public(), 201)


def list_merchants(sandbox: Sandbox, request: Request) -> Response:
    """GET: the registered merchants (never their API keys)."""
    with sandbox.lock:
        merchants = [merchant.public() for merchant in sandbox.part(Merchants).by_id.values()]
    return json_response({"merchants": merchants})


def remove_merchant(sandbox: Sandbox, request: Request) -> Response:
    """DELETE: forget the merchant; its later Pay requests fail as WeChat Pay's do for an unknown mch_id."""
    mch_id = path_argument(request, "mch_id")
    with sandbox.lock:
        if sandbox.part(Merchants).by_id.pop(mch_id, None) is None:
            raise ControlNotFound(f"no merchant {mch_id!r} is registered")
    return json_response({"mch_id": mch_id, "deleted": True})


ROUTES = (
    Route("/sandbox/merchants", ("POST",), register_merchant),
    Route("/sandbox/merchants", ("GET",), list_merchants),
    Route("/sandbox/merchants/<mch_id>", ("DELETE",), remove_merchant),
)
