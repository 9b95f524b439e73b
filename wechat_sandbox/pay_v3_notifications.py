"""WeChat Pay APIv3's notifications as the sandbox sends them: 支付成功回调通知 and 退款结果通知.

The v3 order book calls the two hooks: `v3_payment_notification_post` when a v3 order is paid (the
control API's pay action, or a notification asked for again, through pay_orders.PAYMENT_NOTIFIERS)
and `v3_refund_notification_post` when a v3 refund is made.

From 微信支付 APIv3 文档 (written from the documents, not from our product's code):
- 支付成功回调通知: POST JSON to the order's notify_url: {id, create_time (rfc3339), resource_type
  "encrypt-resource", event_type "TRANSACTION.SUCCESS", summary "支付成功", resource: {original_type
  "transaction", algorithm "AEAD_AES_256_GCM", ciphertext, associated_data, nonce}}; the resource
  decrypts (APIv3 key) to the transaction: appid, mchid, out_trade_no, transaction_id, trade_type,
  trade_state, trade_state_desc, bank_type, attach, success_time, payer.openid, amount {total,
  payer_total, currency, payer_currency}. "只有支付成功才会通知".
- 退款结果通知: the same envelope, event_type REFUND.SUCCESS (退款成功), REFUND.ABNORMAL (退款异常) or
  REFUND.CLOSED (退款关闭), original_type "refund"; the resource: mchid, out_trade_no, transaction_id,
  out_refund_no, refund_id, refund_status (SUCCESS, ABNORMAL, CLOSED), success_time (退款成功时间: only
  for SUCCESS), user_received_account, amount {total, refund, payer_total, payer_refund}.
- 签名: the Wechatpay-Timestamp, -Nonce, -Signature (SHA256withRSA over "TS\\nNONCE\\nBODY\\n") and
  -Serial headers, with WeChat Pay's key of the merchant's verification mode (its public key id, or
  the current platform certificate). Each attempt is signed as it is made, so a retry hours later
  still carries a fresh timestamp (the merchant refuses one over 5 minutes old).
- 通知应答: HTTP 200 or 204 ends it; anything else, or no answer in 5 s, and it is sent again at
  15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h (outbox policy "pay_notification_v3").

Timestamps are real time, not the sandbox clock, as every v3 signature of the sandbox's is: the
control API moves the sandbox clock for expiry and bills, and the merchant checks against its own.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

from wechat_sandbox.errors import BadControlInput, ControlError
from wechat_sandbox.outbox import Delivery, Outbox, header_signer_register
from wechat_sandbox.pay_orders import BEIJING, PAYMENT_NOTIFIERS, PayOrder
from wechat_sandbox.pay_refunds import V3_REFUND_STATUSES
from wechat_sandbox.pay_v3_keys import PayV3Keys, aead_encrypt, rsa_sign

if TYPE_CHECKING:
    from wechat_sandbox.pay_refunds import PayRefund
    from wechat_sandbox.state import Sandbox

SIGNER = "wechatpay_v3"
POLICY = "pay_notification_v3"
# What `fields` may change in a paid order's notification sent again (POST /sandbox/pay/orders/<no>/notify):
# the resource's top-level strings, and its amount's numbers and currency.
AMOUNT_NUMBERS = ("total", "payer_total")
AMOUNT_TEXTS = ("currency", "payer_currency")


class NotificationConflict(ControlError):
    status = 409


def rfc3339(at: float) -> str:
    """yyyy-MM-DDTHH:mm:ss+08:00, as v3 writes its times (Beijing)."""
    return datetime.fromtimestamp(at, BEIJING).isoformat(timespec="seconds")


def transaction_resource(order: PayOrder, *, fields: dict[str, str]) -> dict:
    """支付成功通知's resource for a paid order, with `fields` changed (an amount or id that is not the order's)."""
    resource: dict = {
        "appid": order.appid,
        "mchid": order.mch_id,
        "out_trade_no": order.out_trade_no,
        "transaction_id": order.transaction_id,
        "trade_type": order.trade_type,
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": order.bank_type,
        "attach": order.attach,
        "success_time": rfc3339(order.time_end or 0),
        "payer": {"openid": order.openid},
        "amount": {
            "total": order.total_fee,
            "payer_total": order.total_fee,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }
    for name, value in fields.items():
        if name.startswith("amount."):
            part = name.removeprefix("amount.")
            if part in AMOUNT_NUMBERS:
                if not value.isdigit():
                    raise BadControlInput(f"fields.{name} must be a whole number of fen")
                resource["amount"][part] = int(value)
            elif part in AMOUNT_TEXTS:
                resource["amount"][part] = value
            else:
                raise BadControlInput(f"fields.{name}: the amount has {', '.join(AMOUNT_NUMBERS + AMOUNT_TEXTS)}")
        elif name in resource and isinstance(resource[name], str):
            resource[name] = value
        else:
            raise BadControlInput(f"fields.{name} is not a field of the transaction resource")
    return resource


# 退款结果通知: each refund_status with its event_type and summary.
REFUND_EVENTS = {
    "SUCCESS": ("REFUND.SUCCESS", "退款成功"),
    "ABNORMAL": ("REFUND.ABNORMAL", "退款异常"),
    "CLOSED": ("REFUND.CLOSED", "退款关闭"),
}


def refund_resource(refund: PayRefund) -> dict:
    """退款结果通知's resource for a refund that ended (went through, or ABNORMAL / CLOSED: no money moved)."""
    refund_status = V3_REFUND_STATUSES[refund.outcome]
    resource = {
        "mchid": refund.mch_id,
        "out_trade_no": refund.out_trade_no,
        "transaction_id": refund.transaction_id,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_status": refund_status,
        "success_time": rfc3339(refund.succeeds_at),
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": refund.total_fee,
            "refund": refund.refund_fee,
            "payer_total": refund.total_fee,
            "payer_refund": refund.refund_fee,
        },
    }
    if refund_status != "SUCCESS":
        del resource["success_time"]  # 退款成功时间: none went
    return resource


def notification_body(
    resource: dict, *, apiv3_key: str, event_type: str, summary: str, original_type: str, created_at: float
) -> str:
    """The envelope, its resource encrypted with the merchant's APIv3 key (associated_data: the original type)."""
    encrypted = aead_encrypt(apiv3_key, json.dumps(resource, ensure_ascii=False).encode(), original_type)
    envelope = {
        "id": str(uuid.uuid4()),
        "create_time": rfc3339(created_at),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {"original_type": original_type, **encrypted},
    }
    return json.dumps(envelope, ensure_ascii=False)


def v3_payment_notification_post(
    sandbox: Sandbox, order: PayOrder, *, fields: dict[str, str], bad_signature: bool, description: str
) -> dict:
    """支付成功通知 of a paid v3 order into the outbox (under the sandbox lock); the delivery as a dict."""
    keys = sandbox.part(PayV3Keys).by_mch_id.get(order.mch_id)
    if keys is None:
        raise NotificationConflict(f"merchant {order.mch_id} has no v3 keys: register it again")
    now = sandbox.now()
    body = notification_body(
        transaction_resource(order, fields=fields),
        apiv3_key=keys.apiv3_key,
        event_type="TRANSACTION.SUCCESS",
        summary="支付成功",
        original_type="transaction",
        created_at=now,
    )
    delivery = sandbox.part(Outbox).enqueue(
        url=order.notify_url,
        body=body,
        content_type="application/json",
        policy=POLICY,
        description=description,
        now=now,
        signer=SIGNER,
        signer_options={"mch_id": order.mch_id, "bad_signature": bad_signature},
    )
    order.notifications.append(delivery.id)
    return delivery.as_dict()


def v3_refund_notification_post(sandbox: Sandbox, refund: PayRefund) -> dict | None:
    """退款结果通知 of a v3 refund, due when it goes through (under the sandbox lock); None without keys."""
    keys = sandbox.part(PayV3Keys).by_mch_id.get(refund.mch_id)
    if keys is None or not refund.notify_url:
        return None
    resource = refund_resource(refund)
    event_type, summary = REFUND_EVENTS[resource["refund_status"]]
    body = notification_body(
        resource,
        apiv3_key=keys.apiv3_key,
        event_type=event_type,
        summary=summary,
        original_type="refund",
        created_at=refund.succeeds_at,
    )
    delivery = sandbox.part(Outbox).enqueue(
        url=refund.notify_url,
        body=body,
        content_type="application/json",
        policy=POLICY,
        description=f"refund {refund.out_refund_no} of {refund.out_trade_no} (v3)",
        now=sandbox.now(),
        due_at=refund.succeeds_at,
        signer=SIGNER,
        signer_options={"mch_id": refund.mch_id, "bad_signature": False},
    )
    refund.delivery_id = delivery.id
    return delivery.as_dict()


def _signed_headers(sandbox: Sandbox, delivery: Delivery) -> dict[str, str]:
    """Wechatpay-* headers for one attempt, signed now with the merchant's WeChat Pay key."""
    with sandbox.lock:
        keys = sandbox.part(PayV3Keys).by_mch_id.get(delivery.signer_options.get("mch_id", ""))
    if keys is None:  # forgotten since: sent unsigned, which the merchant must refuse
        return {}
    serial, key = keys.signing_key()
    timestamp, nonce = str(int(time.time())), secrets.token_hex(16).upper()
    signature = rsa_sign(key, f"{timestamp}\n{nonce}\n{delivery.body}\n".encode())
    if delivery.signer_options.get("bad_signature"):  # one character off: a forgery, as the control API asks
        signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    return {
        "Wechatpay-Timestamp": timestamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": serial,
    }


header_signer_register(SIGNER, _signed_headers)
PAYMENT_NOTIFIERS["v3"] = v3_payment_notification_post
