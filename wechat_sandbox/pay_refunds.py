"""WeChat Pay v2 refunds: apply, query, and the encrypted refund notification.

Rules, from 微信支付 V2 开发文档 (JSAPI/小程序支付):
- 申请退款 (secapi/pay/refund): transaction_id or out_trade_no, out_refund_no, total_fee,
  refund_fee; one out_refund_no is one refund however often it is asked for ("同一退款单号
  多次请求只退一笔"). Refusals as WeChat answers them: refund_fee over total_fee is
  return_code FAIL "invalid refund_fee"; total_fee not the order's, or an out_refund_no
  asked again with other amounts, REFUND_FEE_MISMATCH; more than is left INVALID_REQUEST
  "refund_fee大于可退金额"; nothing left ERROR "订单已全额退款"; an unpaid order
  TRADE_STATE_ERROR; a year after payment TRADE_OVERDUE.
  It needs the merchant's API certificate (安全规范 / 证书使用): the sandbox serves it on its
  TLS port only, where the handshake asks for a certificate its CA issued (tls.py), and
  pay_signing checks the certificate is the calling merchant's.
- 查询退款 (pay/refundquery): by refund_id, out_refund_no, transaction_id or out_trade_no (in
  that priority); refund_status_$n PROCESSING until the refund goes through, then SUCCESS;
  REFUNDNOTEXIST.
- 退款结果通知: posted to the refund's notify_url (else the order's) when the refund goes
  through: return_code, appid, mch_id, nonce_str and req_info = base64 of AES-256-ECB
  (PKCS#7) of a <root> message, keyed with the lower-case hex MD5 of the API key.
- A refund need not end in SUCCESS (查询退款 and 退款结果通知, refund_status): CHANGE 退款异常
  (the buyer's account could not take it: the merchant must refund by other means) or
  REFUNDCLOSE 退款关闭. Neither moves money; success_time is given only for SUCCESS. Chosen for
  a merchant's next refund (v2 or v3, where they are ABNORMAL and CLOSED) through
  POST /sandbox/pay/refund-outcome.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput
from wechat_sandbox.merchants import Merchants
from wechat_sandbox.outbox import Outbox
from wechat_sandbox.pay_orders import BEIJING, PAID_STATES, PayOrder, PayOrders, random_digits
from wechat_sandbox.pay_signing import PayFail, PayRefusal, PayRequest, nonce, pay_endpoint, to_xml
from wechat_sandbox.protocols import PAY_XML, json_response
from wechat_sandbox.routes import Route
from wechat_sandbox.state import snapshot_part

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox

# How long a refund is PROCESSING before it goes through, on the sandbox clock (零钱 refunds are near instant).
REFUND_PROCESSING_SECONDS = 10
REFUND_PERIOD_SECONDS = 365 * 86400  # 申请退款: 交易时间超过一年的订单无法提交退款
FEE_SHAPE = re.compile(r"[1-9][0-9]{0,11}")
OUT_REFUND_NO_SHAPE = re.compile(r"[A-Za-z0-9_\-|*@]{1,64}")
REFUND_RECEIVED_BY = "支付用户的零钱"
REFUND_OUTCOMES = ("SUCCESS", "CHANGE", "REFUNDCLOSE")
NO_MONEY_OUTCOMES = frozenset({"CHANGE", "REFUNDCLOSE"})
# APIv3 (查询单笔退款 status, 退款结果通知 refund_status) names v2's CHANGE 退款异常 ABNORMAL and
# REFUNDCLOSE 退款关闭 CLOSED; the control API takes either name, and a refund keeps v2's.
V3_REFUND_STATUSES = {"SUCCESS": "SUCCESS", "PROCESSING": "PROCESSING", "CHANGE": "ABNORMAL", "REFUNDCLOSE": "CLOSED"}
OUTCOME_OF_V3_NAME = {"ABNORMAL": "CHANGE", "CLOSED": "REFUNDCLOSE"}


@dataclass
class PayRefund:
    mch_id: str
    appid: str
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    total_fee: int
    refund_fee: int
    created_at: float
    succeeds_at: float
    notify_url: str
    delivery_id: int | None = None
    api_version: str = "v2"  # the API it was asked through: v3's is notified by pay_v3_notifications
    # How the refund ends once it is no longer PROCESSING: SUCCESS, CHANGE or REFUNDCLOSE.
    outcome: str = "SUCCESS"

    def status(self, now: float) -> str:
        return self.outcome if now >= self.succeeds_at else "PROCESSING"

    def money_moved(self, now: float) -> bool:
        """Counted against the order's refundable amount: unless it ended without paying anything back."""
        return self.status(now) not in NO_MONEY_OUTCOMES

    def public(self, now: float) -> dict:
        return {**asdict(self), "refund_status": self.status(now)}


@snapshot_part("pay_refunds")
class PayRefunds:
    """Every refund by (mch_id, out_refund_no), oldest first; use under the lock."""

    def __init__(self) -> None:
        self.refunds: dict[tuple[str, str], PayRefund] = {}
        # The refund_status each merchant's next refund ends with (POST /sandbox/pay/refund-outcome).
        self.next_outcome: dict[str, str] = {}

    def of_order(self, order: PayOrder) -> list[PayRefund]:
        return [
            refund
            for refund in self.refunds.values()
            if refund.mch_id == order.mch_id and refund.out_trade_no == order.out_trade_no
        ]

    def forget_app(self, appid: str) -> None:
        self.refunds = {key: refund for key, refund in self.refunds.items() if refund.appid != appid}

    def to_snapshot(self) -> dict:
        return {"refunds": [asdict(refund) for refund in self.refunds.values()], "next_outcome": self.next_outcome}

    @classmethod
    def from_snapshot(cls, data: dict) -> PayRefunds:
        part = cls()
        for entry in data["refunds"]:
            refund = PayRefund(**entry)
            part.refunds[(refund.mch_id, refund.out_refund_no)] = refund
        part.next_outcome = {str(mch_id): str(outcome) for mch_id, outcome in data.get("next_outcome", {}).items()}
        return part


def encrypt_req_info(plain: str, api_key: str) -> str:
    """退款结果通知, 解密方式: AES-256-ECB, PKCS#7, key = lower-case hex MD5 of the API key, then base64."""
    key = hashlib.md5(api_key.encode()).hexdigest().encode()  # the algorithm WeChat Pay specifies
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.ECB()).encryptor()  # ECB: as WeChat Pay specifies
    return base64.b64encode(encryptor.update(padded) + encryptor.finalize()).decode()


def refund_notification(refund: PayRefund, api_key: str) -> str:
    success_time = datetime.fromtimestamp(refund.succeeds_at, BEIJING).strftime("%Y-%m-%d %H:%M:%S")
    info = {
        "out_refund_no": refund.out_refund_no,
        "out_trade_no": refund.out_trade_no,
        "refund_account": "REFUND_SOURCE_UNSETTLED_FUNDS",
        "refund_fee": str(refund.refund_fee),
        "refund_id": refund.refund_id,
        "refund_recv_accout": REFUND_RECEIVED_BY,  # sic: WeChat's spelling
        "refund_request_source": "API",
        "refund_status": refund.outcome,
        "settlement_refund_fee": str(refund.refund_fee),
        "settlement_total_fee": str(refund.total_fee),
        "success_time": success_time,
        "total_fee": str(refund.total_fee),
        "transaction_id": refund.transaction_id,
    }
    if refund.outcome != "SUCCESS":
        del info["success_time"]  # 退款结果通知: 资金退款至用户账号的时间 — none went
    plain = "<root>" + "".join(f"<{name}><![CDATA[{value}]]></{name}>" for name, value in info.items()) + "</root>"
    return to_xml(
        {
            "return_code": "SUCCESS",
            "appid": refund.appid,
            "mch_id": refund.mch_id,
            "nonce_str": nonce(),
            "req_info": encrypt_req_info(plain, api_key),
        }
    )


def _fee(params: dict[str, str], name: str) -> int:
    if not FEE_SHAPE.fullmatch(params[name]):
        raise PayFail(f"invalid {name}")
    return int(params[name])


def _refund_fields(refund: PayRefund) -> dict[str, str]:
    return {
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        "out_refund_no": refund.out_refund_no,
        "refund_id": refund.refund_id,
        "refund_fee": str(refund.refund_fee),
        "settlement_refund_fee": str(refund.refund_fee),
        "total_fee": str(refund.total_fee),
        "cash_fee": str(refund.total_fee),
        "cash_refund_fee": str(refund.refund_fee),
        "coupon_refund_fee": "0",
        "coupon_refund_count": "0",
    }


def _paid_order(sandbox: Sandbox, request: PayRequest) -> PayOrder:
    params = request.params
    if not params.get("transaction_id") and not params.get("out_trade_no"):
        raise PayRefusal("LACK_PARAMS", "缺少参数out_trade_no或transaction_id")
    order = sandbox.part(PayOrders).get(
        request.merchant.mch_id,
        out_trade_no=params.get("out_trade_no", ""),
        transaction_id=params.get("transaction_id", ""),
    )
    if order is None or order.mch_id != request.merchant.mch_id:
        raise PayRefusal("ORDERNOTEXIST", "订单号不存在")
    order.settle_expiry(sandbox.now())
    return order


@pay_endpoint
def apply_refund(sandbox: Sandbox, request: PayRequest) -> Response:
    """POST XML: 申请退款 → PROCESSING; the refund goes through shortly after and is notified (req_info encrypted)."""
    request.required("nonce_str", "out_refund_no", "total_fee", "refund_fee")
    params = request.params
    total_fee, refund_fee = _fee(params, "total_fee"), _fee(params, "refund_fee")
    if refund_fee > total_fee:
        raise PayFail("invalid refund_fee")
    if not OUT_REFUND_NO_SHAPE.fullmatch(params["out_refund_no"]):
        raise PayRefusal("INVALID_REQUEST", "out_refund_no参数错误: 64个字符内，只能是数字、大小写字母_-|*@")
    now = sandbox.now()
    with sandbox.lock:
        order = _paid_order(sandbox, request)
        refunds = sandbox.part(PayRefunds)
        existing = refunds.refunds.get((order.mch_id, params["out_refund_no"]))
        if existing is not None:
            if (existing.out_trade_no, existing.total_fee, existing.refund_fee) != (
                order.out_trade_no,
                total_fee,
                refund_fee,
            ):
                raise PayRefusal("REFUND_FEE_MISMATCH")
            return request.answer(_refund_fields(existing))
        if order.state not in PAID_STATES:
            raise PayRefusal("TRADE_STATE_ERROR", "订单状态错误: 订单未支付")
        if total_fee != order.total_fee:
            raise PayRefusal("REFUND_FEE_MISMATCH")
        if now > (order.time_end or 0) + REFUND_PERIOD_SECONDS:
            raise PayRefusal("TRADE_OVERDUE", "订单已经超过可退款的最大期限(支付后一年内可退款)")
        refunded = sum(refund.refund_fee for refund in refunds.of_order(order) if refund.money_moved(now))
        if refunded >= order.total_fee:
            raise PayRefusal("ERROR", "订单已全额退款")
        if refunded + refund_fee > order.total_fee:
            raise PayRefusal("INVALID_REQUEST", "refund_fee大于可退金额")
        refund = PayRefund(
            mch_id=order.mch_id,
            appid=order.appid,
            out_refund_no=params["out_refund_no"],
            refund_id="503" + datetime.fromtimestamp(now, BEIJING).strftime("%Y%m%d") + random_digits(18),
            out_trade_no=order.out_trade_no,
            transaction_id=order.transaction_id,
            total_fee=order.total_fee,
            refund_fee=refund_fee,
            created_at=now,
            succeeds_at=now + REFUND_PROCESSING_SECONDS,
            notify_url=params.get("notify_url") or order.notify_url,
            outcome=refunds.next_outcome.pop(order.mch_id, "SUCCESS"),
        )
        refunds.refunds[(refund.mch_id, refund.out_refund_no)] = refund
        order.state = "REFUND"
        delivery = sandbox.part(Outbox).enqueue(
            url=refund.notify_url,
            body=refund_notification(refund, request.api_key),
            content_type="text/xml",
            policy="pay_notification",
            description=f"refund {refund.out_refund_no} of {order.out_trade_no}",
            now=now,
            due_at=refund.succeeds_at,
        )
        refund.delivery_id = delivery.id
        fields = _refund_fields(refund)
    return request.answer(fields)


@pay_endpoint
def query_refund(sandbox: Sandbox, request: PayRequest) -> Response:
    """POST XML: 查询退款 by refund_id, out_refund_no, transaction_id or out_trade_no → refund_status_$n, ..."""
    params = request.params
    now = sandbox.now()
    with sandbox.lock:
        refunds = sandbox.part(PayRefunds)
        mine = [refund for refund in refunds.refunds.values() if refund.mch_id == request.merchant.mch_id]
        if params.get("refund_id"):
            found = [refund for refund in mine if refund.refund_id == params["refund_id"]]
        elif params.get("out_refund_no"):
            found = [refund for refund in mine if refund.out_refund_no == params["out_refund_no"]]
        elif params.get("transaction_id"):
            found = [refund for refund in mine if refund.transaction_id == params["transaction_id"]]
        elif params.get("out_trade_no"):
            found = [refund for refund in mine if refund.out_trade_no == params["out_trade_no"]]
        else:
            raise PayRefusal("LACK_PARAMS", "缺少参数refund_id、out_refund_no、transaction_id或out_trade_no")
        if not found:
            raise PayRefusal("REFUNDNOTEXIST")
        fields = {
            "transaction_id": found[0].transaction_id,
            "out_trade_no": found[0].out_trade_no,
            "total_fee": str(found[0].total_fee),
            "cash_fee": str(found[0].total_fee),
            "refund_count": str(len(found)),
            "refund_fee": str(sum(refund.refund_fee for refund in found)),
        }
        for n, refund in enumerate(found):
            status = refund.status(now)
            fields.update(
                {
                    f"out_refund_no_{n}": refund.out_refund_no,
                    f"refund_id_{n}": refund.refund_id,
                    f"refund_channel_{n}": "ORIGINAL",
                    f"refund_fee_{n}": str(refund.refund_fee),
                    f"settlement_refund_fee_{n}": str(refund.refund_fee),
                    f"refund_status_{n}": status,
                    f"refund_account_{n}": "REFUND_SOURCE_UNSETTLED_FUNDS",
                    f"refund_recv_accout_{n}": REFUND_RECEIVED_BY,
                }
            )
            if status == "SUCCESS":
                success = datetime.fromtimestamp(refund.succeeds_at, BEIJING).strftime("%Y-%m-%d %H:%M:%S")
                fields[f"refund_success_time_{n}"] = success
    return request.answer(fields)


def list_refunds(sandbox: Sandbox, request: Request) -> Response:
    """GET: the sandbox's WeChat Pay refunds with their refund_status (PROCESSING until they go through)."""
    with sandbox.lock:
        now = sandbox.now()
        listing = [refund.public(now) for refund in sandbox.part(PayRefunds).refunds.values()]
    return json_response({"count": len(listing), "refunds": listing})


def set_refund_outcome(sandbox: Sandbox, request: Request) -> Response:
    """POST {"mch_id", "refund_status"}: the merchant's next refund ends with CHANGE, REFUNDCLOSE or SUCCESS (201).

    It is PROCESSING as usual, then its notification (and refundquery) says this refund_status;
    CHANGE and REFUNDCLOSE move no money, so the amount stays refundable. v3's names ABNORMAL and
    CLOSED are taken too; a v2 refund or a v3 one (ABNORMAL / CLOSED, REFUND.ABNORMAL / .CLOSED) ends so.
    """
    body = ControlInput(request, allowed={"mch_id", "refund_status"})
    mch_id, named = body.text("mch_id", required=True), body.text("refund_status", required=True)
    refund_status = OUTCOME_OF_V3_NAME.get(named, named)
    if refund_status not in REFUND_OUTCOMES:
        names = (*REFUND_OUTCOMES, *OUTCOME_OF_V3_NAME)
        raise BadControlInput(f"refund_status must be one of {', '.join(names)}")
    with sandbox.lock:
        if mch_id not in sandbox.part(Merchants).by_id:
            raise BadControlInput(f"no merchant {mch_id} is registered")
        sandbox.part(PayRefunds).next_outcome[mch_id] = refund_status
    return json_response({"mch_id": mch_id, "refund_status": refund_status}, 201)


ROUTES = (
    Route("/secapi/pay/refund", ("POST",), apply_refund, protocol=PAY_XML, max_body_bytes=64 * 1024),
    Route("/pay/refundquery", ("POST",), query_refund, protocol=PAY_XML, max_body_bytes=64 * 1024),
    Route("/sandbox/pay/refunds", ("GET",), list_refunds),
    Route("/sandbox/pay/refund-outcome", ("POST",), set_refund_outcome),
)
