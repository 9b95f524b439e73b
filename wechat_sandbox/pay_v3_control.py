"""The control API of WeChat Pay APIv3: rotate a merchant's platform certificate, tamper with its next answers.

- 平台证书 are replaced before they expire; while both are valid /v3/certificates lists both and WeChat
  Pay signs with the new one (APIv3 文档, 平台证书更新指引): a client must fetch the new certificate
  when it meets an unknown Wechatpay-Serial.
- Tampering makes WeChat Pay's next answers to the merchant look forged, stale or signed by a key it
  never issued, so a client's checks can be seen refusing them (签名验证: 时间戳超过5分钟的应拒绝).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, ControlNotFound
from wechat_sandbox.pay_v3_keys import ANSWER_TAMPERING, BILL_TAMPERING, MerchantV3Keys, PayV3Keys
from wechat_sandbox.protocols import json_response
from wechat_sandbox.routes import Route, path_argument

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox

TAMPERING_KINDS = ANSWER_TAMPERING + BILL_TAMPERING


def _keys(sandbox: Sandbox, request: Request) -> MerchantV3Keys:
    mch_id = path_argument(request, "mch_id")
    with sandbox.lock:
        keys = sandbox.part(PayV3Keys).by_mch_id.get(mch_id)
    if keys is None:
        raise ControlNotFound(f"no merchant {mch_id!r} with v3 keys is registered")
    return keys


def rotate_platform_certificate(sandbox: Sandbox, request: Request) -> Response:
    """POST: a new platform certificate for the merchant; answers are signed with it from now on (201)."""
    keys = _keys(sandbox, request)
    issued = keys.rotate_platform_certificate()
    return json_response({"serial_no": issued.serial, "v3": keys.public()}, 201)


def tamper_answers(sandbox: Sandbox, request: Request) -> Response:
    """POST {"kind", "times": 1}: spoil the merchant's next answers (201).

    kind: bad_signature (one character of Wechatpay-Signature changed), stale_timestamp (validly
    signed 6 minutes ago), unknown_serial (signed by a key of a serial the merchant was never given),
    or wrong_bill_hash (the next /v3/bill/tradebill names a hash_value its file does not have).
    """
    body = ControlInput(request, allowed={"kind", "times"})
    kind = body.text("kind", required=True)
    if kind not in TAMPERING_KINDS:
        raise BadControlInput(f"kind must be one of {', '.join(TAMPERING_KINDS)}")
    times = body.integer("times", minimum=1, maximum=1000) or 1
    keys = _keys(sandbox, request)
    pending = keys.tamper(kind, times)
    return json_response({"mch_id": keys.mch_id, "pending": pending}, 201)


ROUTES = (
    Route("/sandbox/pay/v3/merchants/<mch_id>/platform-certificates", ("POST",), rotate_platform_certificate),
    Route("/sandbox/pay/v3/merchants/<mch_id>/answer-tampering", ("POST",), tamper_answers),
)
