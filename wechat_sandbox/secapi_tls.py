"""GET /sandbox/tls: where secapi/ and APIv3 are served over TLS, and the files a merchant needs to call them.

See tls.py for why (WeChat Pay's secapi calls need the merchant certificate) and pay_v3_keys.py for
the APIv3 keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from wechat_sandbox.errors import ControlNotFound
from wechat_sandbox.merchants import Merchants
from wechat_sandbox.pay_v3_keys import PayV3Keys
from wechat_sandbox.protocols import json_response
from wechat_sandbox.routes import Route

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox


def describe_tls(sandbox: Sandbox, request: Request) -> Response:
    """GET: {"secapi_url", "v3_url", "ca_path", "merchants": {mch_id: {"cert_path", "key_path", "v3"}}}.

    Point WECHAT_PAY_SECAPI_BASE_URL, WECHAT_PAY_CA_BUNDLE, WECHAT_PAY_CERT_PATH and
    WECHAT_PAY_KEY_PATH at them, and WECHAT_PAY_V3_BASE_URL at v3_url. "v3" names each merchant's
    certificate serial, WeChat Pay public key id and the files of its APIv3 keys (never a key itself).
    Files are made afresh each time the sandbox starts.
    """
    authority = sandbox.tls_authority
    if authority is None:
        raise ControlNotFound("this sandbox serves no TLS port")
    with sandbox.lock:
        mch_ids = list(sandbox.part(Merchants).by_id)
        v3_keys = dict(sandbox.part(PayV3Keys).by_mch_id)
    certificates = {mch_id: authority.merchant_certificate(mch_id) for mch_id in mch_ids}
    return json_response(
        {
            "secapi_url": sandbox.secapi_url,
            "v3_url": sandbox.v3_url,
            "ca_path": authority.ca_path,
            "merchants": {
                mch_id: {
                    "cert_path": certificate.cert_path,
                    "key_path": certificate.key_path,
                    "v3": v3_keys[mch_id].public() if mch_id in v3_keys else None,
                }
                for mch_id, certificate in certificates.items()
            },
        }
    )


ROUTES = (Route("/sandbox/tls", ("GET",), describe_tls),)
