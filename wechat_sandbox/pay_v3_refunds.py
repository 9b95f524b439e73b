"""WeChat Pay APIv3 refunds: 退款申请 and 查询单笔退款, in the same refund book as v2's.

Rules, from 微信支付 APIv3 文档, 退款:
- 退款申请 POST /v3/refund/domestic/refunds: transaction_id or out_trade_no, out_refund_no (≤64 of
  digits, letters, _-|*@), reason, notify_url, amount.refund, amount.total (the order's), currency CNY.
  One out_refund_no is one refund however often asked for. → the refund with status PROCESSING
  (SUCCESS once it goes through, as v2's, pay_refunds.REFUND_PROCESSING_SECONDS later). Refusals:
  404 RESOURCE_NOT_EXISTS for an order we do not have; 400 PARAM_ERROR for a malformed field or a
  refund over the total; 400 INVALID_REQUEST for an unpaid order, more than is left, the same
  out_refund_no with other amounts, or a payment more than a year old.
- 查询单笔退款 GET /v3/refund/domestic/refunds/{out_refund_no}: the refund; 404 RESOURCE_NOT_EXISTS.
  status (退款状态): SUCCESS, CLOSED 退款关闭, PROCESSING 退款处理中, ABNORMAL 退款异常 ("退款到银行发现用户的
  卡作废或者冻结了…可前往商户平台-交易中心，手动处理此笔退款"); success_time only for SUCCESS. CLOSED and
  ABNORMAL move no money, so the amount can be refunded again (v2's REFUNDCLOSE and CHANGE, chosen
  for the merchant's next refund through POST /sandbox/pay/refund-outcome).
- 退款结果通知: posted when the refund ends (pay_v3_notifications, the v3 notifications work).
No merchant certificate in the TLS handshake: APIv3 authenticates refunds by the request signature.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from wechat_sandbox.pay_orders import BEIJING, PAID_STATES, PayOrder, PayOrders, random_digits
from wechat_sandbox.pay_refunds import (
    OUT_REFUND_NO_SHAPE,
    REFUND_PERIOD_SECONDS,
    REFUND_PROCESSING_SECONDS,
    V3_REFUND_STATUSES,
    PayRefund,
    PayRefunds,
)
from wechat_sandbox.pay_v3_notifications import v3_refund_notification_post
from wechat_sandbox.pay_v3_orders import MAX_BODY_BYTES, rfc3339
from wechat_sandbox.pay_v3_requests import V3Answer, V3Refusal, V3Request, v3_endpoint
from wechat_sandbox.protocols import PAY_V3
from wechat_sandbox.routes import Route, path_argument

if TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

    from wechat_sandbox.state import Sandbox

USER_RECEIVED_ACCOUNT = "支付用户零钱"


def refund_of(refund: PayRefund, now: float) -> dict:
    """The refund as 退款申请 and 查询单笔退款 answer it."""
    status = V3_REFUND_STATUSES[refund.status(now)]
    answer = {
        "refund_id": refund.refund_id,
        "out_refund_no": refund.out_refund_no,
        "transaction_id": refund.transaction_id,
        "out_trade_no": refund.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": USER_RECEIVED_ACCOUNT,
        "create_time": rfc3339(refund.created_at),
        "status": status,
        "funds_account": "AVAILABLE",
        "amount": {
            "total": refund.total_fee,
            "refund": refund.refund_fee,
            "payer_total": refund.total_fee,
            "payer_refund": refund.refund_fee,
            "settlement_total": refund.total_fee,
            "settlement_refund": refund.refund_fee,
            "discount_refund": 0,
            "currency": "CNY",
        },
    }
    if status == "SUCCESS":
        answer["success_time"] = rfc3339(refund.succeeds_at)
    return answer


def _paid_order(sandbox: Sandbox, request: V3Request) -> PayOrder:
    """The order a refund names, transaction_id first; call under the lock."""
    transaction_id = request.text(request.body, "transaction_id", required=False, max_length=32)
    out_trade_no = request.text(request.body, "out_trade_no", required=False, max_length=32)
    if not transaction_id and not out_trade_no:
        raise V3Refusal("PARAM_ERROR", "transaction_id和out_trade_no必须二选一", detail={"field": "out_trade_no"})
    order = sandbox.part(PayOrders).get(request.mch_id, out_trade_no=out_trade_no, transaction_id=transaction_id)
    if order is None or order.mch_id != request.mch_id:
        raise V3Refusal("RESOURCE_NOT_EXISTS", "订单不存在")
    order.settle_expiry(sandbox.now())
    return order


def _apply(sandbox: Sandbox, request: V3Request) -> V3Answer:
    """POST JSON: 退款申请 → the refund, PROCESSING; it goes through shortly after."""
    body = request.body
    out_refund_no = request.text(body, "out_refund_no", max_length=64)
    if not OUT_REFUND_NO_SHAPE.fullmatch(out_refund_no):
        raise V3Refusal(
            "PARAM_ERROR", "out_refund_no应为64个字符内的数字、大小写字母_-|*@", detail={"field": "out_refund_no"}
        )
    amount = request.object(body, "amount")
    refund_fee, total_fee = request.integer(amount, "refund"), request.integer(amount, "total")
    if amount.get("currency") != "CNY":
        raise V3Refusal("PARAM_ERROR", "currency仅支持CNY", detail={"field": "amount.currency"})
    if refund_fee > total_fee:
        raise V3Refusal("PARAM_ERROR", "退款金额不能大于订单金额", detail={"field": "amount.refund"})
    notify_url = request.text(body, "notify_url", required=False, max_length=256)
    now = sandbox.now()
    with sandbox.lock:
        order = _paid_order(sandbox, request)
        refunds = sandbox.part(PayRefunds)
        existing = refunds.refunds.get((order.mch_id, out_refund_no))
        if existing is not None:
            if (existing.out_trade_no, existing.total_fee, existing.refund_fee) != (
                order.out_trade_no,
                total_fee,
                refund_fee,
            ):
                raise V3Refusal("INVALID_REQUEST", "同一退款单号的订单金额或退款金额与之前请求不一致")
            return V3Answer(payload=refund_of(existing, now))
        if order.state not in PAID_STATES:
            raise V3Refusal("INVALID_REQUEST", "订单未支付，不能退款")
        if total_fee != order.total_fee:
            raise V3Refusal("PARAM_ERROR", "订单金额与原订单金额不一致", detail={"field": "amount.total"})
        if now > (order.time_end or 0) + REFUND_PERIOD_SECONDS:
            raise V3Refusal("INVALID_REQUEST", "订单已超过可退款的最大期限(支付后一年内可退款)")
        refunded = sum(refund.refund_fee for refund in refunds.of_order(order) if refund.money_moved(now))
        if refunded + refund_fee > order.total_fee:
            raise V3Refusal("INVALID_REQUEST", "申请退款金额超过订单可退金额")
        refund = PayRefund(
            mch_id=order.mch_id,
            appid=order.appid,
            out_refund_no=out_refund_no,
            refund_id="503" + datetime.fromtimestamp(now, BEIJING).strftime("%Y%m%d") + random_digits(18),
            out_trade_no=order.out_trade_no,
            transaction_id=order.transaction_id,
            total_fee=order.total_fee,
            refund_fee=refund_fee,
            created_at=now,
            succeeds_at=now + REFUND_PROCESSING_SECONDS,
            notify_url=notify_url,
            api_version="v3",
            outcome=refunds.next_outcome.pop(order.mch_id, "SUCCESS"),
        )
        refunds.refunds[(refund.mch_id, refund.out_refund_no)] = refund
        order.state = "REFUND"
        delivery = v3_refund_notification_post(sandbox, refund)
        refund.delivery_id = delivery["id"] if delivery else None
        answer = refund_of(refund, now)
    return V3Answer(payload=answer)


def _query(sandbox: Sandbox, request: V3Request, out_refund_no: str) -> V3Answer:
    with sandbox.lock:
        refund = sandbox.part(PayRefunds).refunds.get((request.mch_id, out_refund_no))
        if refund is None:
            raise V3Refusal("RESOURCE_NOT_EXISTS", "退款单不存在")
        answer = refund_of(refund, sandbox.now())
    return V3Answer(payload=answer)


apply_refund = v3_endpoint(_apply)


def query_refund(sandbox: Sandbox, request: Request) -> Response:
    """GET: 查询单笔退款 by out_refund_no → status PROCESSING until it goes through, then SUCCESS."""
    out_refund_no = path_argument(request, "out_refund_no")
    return v3_endpoint(lambda box, verified: _query(box, verified, out_refund_no))(sandbox, request)


ROUTES = (
    Route("/v3/refund/domestic/refunds", ("POST",), apply_refund, protocol=PAY_V3, max_body_bytes=MAX_BODY_BYTES),
    Route(
        "/v3/refund/domestic/refunds/<out_refund_no>",
        ("GET",),
        query_refund,
        protocol=PAY_V3,
        max_body_bytes=MAX_BODY_BYTES,
    ),
)
