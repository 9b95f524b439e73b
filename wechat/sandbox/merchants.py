"""WeChat Pay merchants, registered beside apps: the merchant id, its v2 API key and the app it collects for.

The Pay endpoints (unified order, query, refund, bills) sign and verify with the
merchant's API key; they come with the payments work and find the merchant here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from wechat.sandbox.errors import BadControlInput
from wechat.sandbox.web import ControlInput, Route, json_response

if TYPE_CHECKING:
    from wechat.sandbox.state import Sandbox

# 微信支付 V2 开发文档, 安全规范 / 签名算法: the API key is set in the merchant platform and is 32 characters.
API_KEY_SHAPE = re.compile(r"[A-Za-z0-9]{32}")
# Merchant ids are digits (10 for merchants registered today; older and test ones are shorter).
MCH_ID_SHAPE = re.compile(r"[0-9]{6,12}")


@dataclass(frozen=True)
class SandboxMerchant:
    mch_id: str
    api_key: str
    appid: str

    def public(self) -> dict:
        """What the control API shows: never the API key."""
        return {"mch_id": self.mch_id, "appid": self.appid}

    def __repr__(self) -> str:
        return f"SandboxMerchant(mch_id={self.mch_id!r}, appid={self.appid!r})"


def merchant_from_fields(*, mch_id: str, api_key: str, appid: str) -> SandboxMerchant:
    if not MCH_ID_SHAPE.fullmatch(mch_id):
        raise BadControlInput("mch_id must be 6 to 12 digits")
    if not API_KEY_SHAPE.fullmatch(api_key):
        raise BadControlInput("api_key must be 32 letters and digits, as WeChat Pay's v2 API key is")
    return SandboxMerchant(mch_id=mch_id, api_key=api_key, appid=appid)


def register_merchant(sandbox: Sandbox, request: Request) -> Response:
    """POST {"mch_id", "api_key", "appid"}: a WeChat Pay merchant of a registered app, added or replaced (201)."""
    body = ControlInput(request, allowed={"mch_id", "api_key", "appid"})
    merchant = merchant_from_fields(
        mch_id=body.text("mch_id", required=True),
        api_key=body.text("api_key", required=True),
        appid=body.text("appid", required=True),
    )
    with sandbox.lock:
        sandbox.registered_app(merchant.appid)
        sandbox.merchants[merchant.mch_id] = merchant
    return json_response(merchant.public(), 201)


def list_merchants(sandbox: Sandbox, request: Request) -> Response:
    """GET: the registered merchants (never their API keys)."""
    with sandbox.lock:
        return json_response({"merchants": [merchant.public() for merchant in sandbox.merchants.values()]})


def remove_merchant(sandbox: Sandbox, request: Request, mch_id: str) -> Response:
    """DELETE: forget the merchant; its later Pay requests fail as WeChat Pay's do for an unknown mch_id."""
    with sandbox.lock:
        if sandbox.merchants.pop(mch_id, None) is None:
            raise BadControlInput(f"no merchant {mch_id!r} is registered")
    return json_response({"mch_id": mch_id, "removed": True})


ROUTES = (
    Route("/sandbox/merchants", ("POST",), register_merchant),
    Route("/sandbox/merchants", ("GET",), list_merchants),
    Route("/sandbox/merchants/<mch_id>", ("DELETE",), remove_merchant),
)
