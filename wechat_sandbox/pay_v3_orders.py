"""WeChat Pay APIv3 orders: JSAPI下单, 商户订单号查询订单, 关闭订单, in the same order book as v2's.

Rules, from 微信支付 APIv3 文档, JSAPI支付 (直连商户):
- JSAPI下单 POST /v3/pay/transactions/jsapi: appid, mchid, description (≤127), out_trade_no (6-32 of
  digits, letters, _-*), notify_url, amount.total (fen, > 0) and amount.currency (CNY), payer.openid;
  time_expire rfc3339 (yyyy-MM-DDTHH:mm:ss+08:00). → 200 {"prepay_id"}, valid 2 hours. The same
  out_trade_no again with the same parameters gets its prepay_id back; with others 403
  OUT_TRADE_NO_USED; 403 ORDERPAID once paid, 400 ORDER_CLOSED once closed; appid not bound to the
  mchid 400 APPID_MCHID_NOT_MATCH; a field missing or malformed 400 PARAM_ERROR. The time rules are
  v2's (pay_orders): a time_expire less than 5 minutes ahead is 400 PARAM_ERROR "time_expire时间过短，
  刷卡至少1分钟，其他5分钟" (JSAPI is not 刷卡).
- 商户订单号查询订单 GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=: the order's
  trade_state (SUCCESS, REFUND, NOTPAY, CLOSED, USERPAYING, PAYERROR), amount, payer and, once paid,
  transaction_id and success_time; 404 ORDER_NOT_EXIST.
- 关闭订单 POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close {"mchid"}: 204 No Content;
  403 ORDERPAID if paid, 400 ORDER_CLOSED if closed already (as v2 answers), 404 ORDER_NOT_EXIST;
  not within 5 minutes of the order's creation ("订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟"):
  500 SYSTEM_ERROR, the order stays open (see _close).
Orders made here are v2's PayOrder rows (api_version "v3"): v2's orderquery sees them, the control
API's pay action pays them, bills list them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING

from wechat_sandbox.pay_orders import (
    BEIJING,
    CLOSE_AFTER_SECONDS,
    DEFAULT_EXPIRY_SECONDS,
    MIN_EXPIRY_SECONDS,
    PAID_STATES,
    PREPAY_VALID_SECONDS,
    TRADE_STATE_DESCRIPTIONS,
    PayOrder,
    PayOrders,
    new_prepay_id,
)
from wechat_sandbox.pay_v3_requests import V3Answer, V3Refusal, V3Request, v3_endpoint
from wechat_sandbox.protocols import PAY_V3
from wechat_sandbox.routes import Route, path_argument

if TYPE_CHECKING:
    from werkzeug.wrappers import Request, Response

    from wechat_sandbox.state import Sandbox

OUT_TRADE_NO_SHAPE = re.compile(r"[A-Za-z0-9_\-*]{6,32}")  # JSAPI下单, out_trade_no
MAX_BODY_BYTES = 64 * 1024


def rfc3339(at: float) -> str:
    """Beijing time as APIv3 writes it: 2018-06-08T10:34:56+08:00."""
    return datetime.fromtimestamp(at, BEIJING).isoformat(timespec="seconds")


def parse_rfc3339(text: str) -> float | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


def _prepay(sandbox: Sandbox, request: V3Request) -> V3Answer:
    """POST JSON: JSAPI下单 → prepay_id, valid 2 hours; a repeat with the same parameters gets the same one."""
    body = request.body
    appid = request.text(body, "appid", max_length=32)
    mchid = request.text(body, "mchid", max_length=32)
    description = request.text(body, "description", max_length=127)
    out_trade_no = request.text(body, "out_trade_no", max_length=32)
    notify_url = request.text(body, "notify_url", max_length=255)
    amount = request.object(body, "amount")
    total = request.integer(amount, "total")
    if amount.get("currency", "CNY") != "CNY":
        raise V3Refusal("PARAM_ERROR", "currency仅支持CNY", detail={"field": "amount.currency"})
    openid = request.text(request.object(body, "payer"), "openid", max_length=128)
    attach = request.text(body, "attach", required=False, max_length=128)
    if mchid != request.mch_id:
        raise V3Refusal("PARAM_ERROR", "mchid与请求头中的商户号不一致", detail={"field": "mchid"})
    if appid != request.appid:
        raise V3Refusal("APPID_MCHID_NOT_MATCH")
    if not OUT_TRADE_NO_SHAPE.fullmatch(out_trade_no):
        raise V3Refusal("PARAM_ERROR", "out_trade_no应为6-32位数字、大小写字母_-*", detail={"field": "out_trade_no"})
    if not notify_url.startswith(("https://", "http://")):
        raise V3Refusal("PARAM_ERROR", "notify_url应为完整的URL", detail={"field": "notify_url"})
    now = sandbox.now()
    time_expire_text = request.text(body, "time_expire", required=False, max_length=64)
    if time_expire_text:
        time_expire = parse_rfc3339(time_expire_text)
        if time_expire is None:
            raise V3Refusal("PARAM_ERROR", "time_expire应为rfc3339格式", detail={"field": "time_expire"})
        if time_expire < now + MIN_EXPIRY_SECONDS:
            # JSAPI下单 time_expire, as 统一下单 words it: JSAPI is not 刷卡, so 5 minutes (MIN_EXPIRY_SECONDS).
            raise V3Refusal(
                "PARAM_ERROR", "time_expire时间过短，刷卡至少1分钟，其他5分钟", detail={"field": "time_expire"}
            )
    else:
        time_expire = now + DEFAULT_EXPIRY_SECONDS
    repeated = {
        "api_version": "v3",
        "appid": appid,
        "description": description,
        "attach": attach,
        "total": str(total),
        "notify_url": notify_url,
        "openid": openid,
        "time_expire": time_expire_text,
    }
    with sandbox.lock:
        orders = sandbox.part(PayOrders)
        order = orders.settled(orders.get(request.mch_id, out_trade_no=out_trade_no), now)
        if order is not None:
            if order.state in PAID_STATES:
                raise V3Refusal("ORDERPAID")
            if order.state == "CLOSED":
                raise V3Refusal("ORDER_CLOSED")
            if order.repeated != repeated:
                raise V3Refusal("OUT_TRADE_NO_USED")
            if now >= order.prepay_issued_at + PREPAY_VALID_SECONDS:
                order.prepay_id, order.prepay_issued_at = new_prepay_id(now), now
        else:
            order = PayOrder(
                mch_id=request.mch_id,
                appid=appid,
                out_trade_no=out_trade_no,
                body=description,
                total_fee=total,
                openid=openid,
                notify_url=notify_url,
                trade_type="JSAPI",
                sign_type="RSA",
                attach=attach,
                repeated=repeated,
                created_at=now,
                time_expire=time_expire,
                prepay_id=new_prepay_id(now),
                prepay_issued_at=now,
                api_version="v3",
            )
            orders.orders[(request.mch_id, out_trade_no)] = order
        prepay_id = order.prepay_id
    return V3Answer(payload={"prepay_id": prepay_id})


prepay = v3_endpoint(_prepay)


def transaction_of(order: PayOrder) -> dict:
    """查询订单's answer for one order (also what a payment notification's resource holds)."""
    transaction: dict = {
        "appid": order.appid,
        "mchid": order.mch_id,
        "out_trade_no": order.out_trade_no,
        "trade_type": order.trade_type,
        "trade_state": order.state,
        "trade_state_desc": TRADE_STATE_DESCRIPTIONS[order.state],
        "payer": {"openid": order.openid},
        "amount": {"total": order.total_fee, "currency": "CNY"},
    }
    if order.attach:
        transaction["attach"] = order.attach
    if order.state in PAID_STATES:
        transaction.update(
            {
                "transaction_id": order.transaction_id,
                "bank_type": order.bank_type,
                "success_time": rfc3339(order.time_end or 0),
            }
        )
        transaction["amount"].update({"payer_total": order.total_fee, "payer_currency": "CNY"})
    return transaction


def _order_named(sandbox: Sandbox, request: V3Request, out_trade_no: str) -> PayOrder:
    """Call under the lock."""
    order = sandbox.part(PayOrders).get(request.mch_id, out_trade_no=out_trade_no)
    if order is None:
        raise V3Refusal("ORDER_NOT_EXIST")
    order.settle_expiry(sandbox.now())
    return order


def _query(sandbox: Sandbox, request: V3Request, out_trade_no: str) -> V3Answer:
    if request.query.get("mchid") != request.mch_id:
        raise V3Refusal("PARAM_ERROR", "mchid与请求头中的商户号不一致", detail={"field": "mchid", "location": "query"})
    with sandbox.lock:
        transaction = transaction_of(_order_named(sandbox, request, out_trade_no))
    return V3Answer(payload=transaction)


def _close(sandbox: Sandbox, request: V3Request, out_trade_no: str) -> V3Answer:
    if request.text(request.body, "mchid", max_length=32) != request.mch_id:
        raise V3Refusal("PARAM_ERROR", "mchid与请求头中的商户号不一致", detail={"field": "mchid"})
    with sandbox.lock:
        order = _order_named(sandbox, request, out_trade_no)
        if order.state in PAID_STATES:
            raise V3Refusal("ORDERPAID")
        if order.state == "CLOSED":
            raise V3Refusal("ORDER_CLOSED")
        if sandbox.now() < order.created_at + CLOSE_AFTER_SECONDS:
            # 关闭订单 (APIv3) documents the 5-minute rule but no code of its own for it; its 错误码 table's
            # 500 SYSTEM_ERROR ("系统异常，请使用相同参数稍后重新调用") is the documented "try again later",
            # as v2's closeorder answers SYSTEMERROR (pay_orders.close_order). The order stays open.
            raise V3Refusal("SYSTEM_ERROR", "订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟")
        order.state = "CLOSED"
    return V3Answer(status=204)


def query_order(sandbox: Sandbox, request: Request) -> Response:
    """GET ?mchid=: 商户订单号查询订单 → trade_state, amount, payer; transaction_id and success_time once paid."""
    out_trade_no = path_argument(request, "out_trade_no")
    return v3_endpoint(lambda box, verified: _query(box, verified, out_trade_no))(sandbox, request)


def close_order(sandbox: Sandbox, request: Request) -> Response:
    """POST {"mchid"}: 关闭订单 → 204; ORDERPAID if paid, ORDER_CLOSED if closed already."""
    out_trade_no = path_argument(request, "out_trade_no")
    return v3_endpoint(lambda box, verified: _close(box, verified, out_trade_no))(sandbox, request)


ROUTES = (
    Route("/v3/pay/transactions/jsapi", ("POST",), prepay, protocol=PAY_V3, max_body_bytes=MAX_BODY_BYTES),
    Route(
        "/v3/pay/transactions/out-trade-no/<out_trade_no>",
        ("GET",),
        query_order,
        protocol=PAY_V3,
        max_body_bytes=MAX_BODY_BYTES,
    ),
    Route(
        "/v3/pay/transactions/out-trade-no/<out_trade_no>/close",
        ("POST",),
        close_order,
        protocol=PAY_V3,
        max_body_bytes=MAX_BODY_BYTES,
    ),
)
