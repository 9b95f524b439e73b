"""WeChat Pay v2 orders: unified order (JSAPI), order query, close, and the payment notification.

Rules, from 微信支付 V2 开发文档 (JSAPI/小程序支付):
- 统一下单: appid, mch_id, nonce_str, sign, body, out_trade_no, total_fee (fen, > 0),
  spbill_create_ip, notify_url, trade_type, and openid for JSAPI; time_expire is
  yyyyMMddHHmmss Beijing time. prepay_id is valid for 2 hours; the same out_trade_no
  again with the same parameters gets its prepay_id back (a new one once it lapsed),
  with different ones INVALID_REQUEST "201 商户订单号重复"; ORDERPAID / ORDERCLOSED once
  paid / closed.
- 查询订单: by transaction_id (first) or out_trade_no; trade_state SUCCESS, REFUND, NOTPAY,
  CLOSED, USERPAYING, PAYERROR; ORDERNOTEXIST otherwise.
- 关闭订单: closes an unpaid order; ORDERPAID if paid, ORDERCLOSED if already closed; not within
  5 minutes of the order's creation (SYSTEMERROR, the order stays open).
- time_expire must be at least 5 minutes away (INVALID_REQUEST "time_expire时间过短…").
- 支付结果通知: posted to notify_url signed with the order's sign_type, repeated on the
  "pay_notification" schedule until answered return_code SUCCESS.
An unpaid order is closed at its time_expire on the sandbox clock.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, ControlError, ControlNotFound
from wechat_sandbox.merchants import Merchants
from wechat_sandbox.outbox import Outbox
from wechat_sandbox.pay_signing import HMAC_SHA256, PayRefusal, PayRequest, nonce, pay_endpoint, sign, to_xml
from wechat_sandbox.protocols import PAY_XML, json_response
from wechat_sandbox.routes import Route, path_argument
from wechat_sandbox.state import snapshot_part

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox

BEIJING = timezone(timedelta(hours=8))
PREPAY_VALID_SECONDS = 2 * 3600  # 统一下单, prepay_id: 有效期为2小时
DEFAULT_EXPIRY_SECONDS = 2 * 3600
# 统一下单, time_expire: "time_expire时间过短，刷卡至少1分钟，其他5分钟" (JSAPI is not 刷卡: 5 minutes).
MIN_EXPIRY_SECONDS = 300
# 关闭订单: "订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟".
CLOSE_AFTER_SECONDS = 300
# The parameters a repeated unified order must repeat (统一下单, INVALID_REQUEST: 订单重入时，要求参数值与原请求一致).
REPEATED_FIELDS = ("appid", "body", "detail", "attach", "total_fee", "fee_type", "notify_url", "trade_type", "openid")
PAID_STATES = ("SUCCESS", "REFUND")
TRADE_STATE_DESCRIPTIONS = {
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "NOTPAY": "订单未支付",
    "CLOSED": "订单已关闭",
    "USERPAYING": "用户支付中",
    "PAYERROR": "支付失败(其他原因，如银行返回失败)",
}
OUT_TRADE_NO_SHAPE = re.compile(r"[A-Za-z0-9_\-|*@]{1,32}")
TOTAL_FEE_SHAPE = re.compile(r"[1-9][0-9]{0,11}")
STAMP_SHAPE = re.compile(r"[0-9]{14}")


def beijing_stamp(at: float) -> str:
    """yyyyMMddHHmmss in Beijing time, as time_expire and time_end are written."""
    return datetime.fromtimestamp(at, BEIJING).strftime("%Y%m%d%H%M%S")


def parse_beijing_stamp(text: str) -> float | None:
    if not STAMP_SHAPE.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING).timestamp()
    except ValueError:
        return None


def random_digits(count: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(count))


@dataclass
class PayOrder:
    mch_id: str
    appid: str
    out_trade_no: str
    body: str
    total_fee: int
    openid: str
    notify_url: str
    trade_type: str
    sign_type: str
    attach: str
    repeated: dict[str, str]  # the parameters a repeated unified order must match
    created_at: float
    time_expire: float
    prepay_id: str
    prepay_issued_at: float
    state: str = "NOTPAY"
    transaction_id: str = ""
    time_end: float | None = None
    bank_type: str = ""
    notifications: list[int] = field(default_factory=list)  # outbox delivery ids
    api_version: str = "v2"  # the API it was made through: how it is notified (v3: pay_v3_notifications)

    def settle_expiry(self, now: float) -> None:
        if self.state in ("NOTPAY", "USERPAYING", "PAYERROR") and now >= self.time_expire:
            self.state = "CLOSED"

    def public(self) -> dict:
        return {
            **asdict(self),
            "time_expire": beijing_stamp(self.time_expire),
            "time_end": beijing_stamp(self.time_end) if self.time_end else "",
        }


@snapshot_part("pay_orders")
class PayOrders:
    """Every order by (mch_id, out_trade_no); use under the lock."""

    def __init__(self) -> None:
        self.orders: dict[tuple[str, str], PayOrder] = {}

    def get(self, mch_id: str, *, out_trade_no: str = "", transaction_id: str = "") -> PayOrder | None:
        if transaction_id:
            return next(
                (order for order in self.orders.values() if order.transaction_id == transaction_id),
                None,
            )
        return self.orders.get((mch_id, out_trade_no))

    def settled(self, order: PayOrder | None, now: float) -> PayOrder | None:
        if order is not None:
            order.settle_expiry(now)
        return order

    def forget_app(self, appid: str) -> None:
        self.orders = {key: order for key, order in self.orders.items() if order.appid != appid}

    def to_snapshot(self) -> dict:
        return {"orders": [asdict(order) for order in self.orders.values()]}

    @classmethod
    def from_snapshot(cls, data: dict) -> PayOrders:
        part = cls()
        for entry in data["orders"]:
            order = PayOrder(**entry)
            part.orders[(order.mch_id, order.out_trade_no)] = order
        return part


def new_prepay_id(now: float) -> str:
    return "wx" + beijing_stamp(now) + secrets.token_hex(10)


@pay_endpoint
def unified_order(sandbox: Sandbox, request: PayRequest) -> Response:
    """POST XML: 统一下单 (JSAPI) → prepay_id, valid 2 hours; a repeat with the same parameters gets the same one."""
    request.required("nonce_str", "body", "out_trade_no", "total_fee", "spbill_create_ip", "notify_url", "trade_type")
    params = request.params
    if params["trade_type"] != "JSAPI":
        raise PayRefusal("INVALID_REQUEST", "trade_type参数错误: the sandbox serves JSAPI")
    if not params.get("openid"):
        raise PayRefusal("LACK_PARAMS", "JSAPI支付必须传openid")
    if not TOTAL_FEE_SHAPE.fullmatch(params["total_fee"]):
        raise PayRefusal("INVALID_REQUEST", "total_fee参数错误: 订单总金额，单位为分，大于0的整数")
    if not OUT_TRADE_NO_SHAPE.fullmatch(params["out_trade_no"]):
        raise PayRefusal("INVALID_REQUEST", "out_trade_no参数错误: 32个字符内，只能是数字、大小写字母_-|*@")
    now = sandbox.now()
    if params.get("time_expire"):
        time_expire = parse_beijing_stamp(params["time_expire"])
        if time_expire is None:
            raise PayRefusal("INVALID_REQUEST", "time_expire参数错误: 格式为yyyyMMddHHmmss")
        if time_expire < now + MIN_EXPIRY_SECONDS:
            raise PayRefusal("INVALID_REQUEST", "time_expire时间过短，刷卡至少1分钟，其他5分钟")
    else:
        time_expire = now + DEFAULT_EXPIRY_SECONDS
    repeated = {name: params.get(name, "") for name in REPEATED_FIELDS}
    if params.get("time_expire"):
        repeated["time_expire"] = params["time_expire"]
    mch_id = request.merchant.mch_id
    with sandbox.lock:
        orders = sandbox.part(PayOrders)
        order = orders.settled(orders.get(mch_id, out_trade_no=params["out_trade_no"]), now)
        if order is not None:
            if order.state in PAID_STATES:
                raise PayRefusal("ORDERPAID")
            if order.state == "CLOSED":
                raise PayRefusal("ORDERCLOSED")
            if order.repeated != repeated:
                raise PayRefusal("INVALID_REQUEST", "201 商户订单号重复")
            if now >= order.prepay_issued_at + PREPAY_VALID_SECONDS:
                order.prepay_id, order.prepay_issued_at = new_prepay_id(now), now
        else:
            order = PayOrder(
                mch_id=mch_id,
                appid=params["appid"],
                out_trade_no=params["out_trade_no"],
                body=params["body"],
                total_fee=int(params["total_fee"]),
                openid=params["openid"],
                notify_url=params["notify_url"],
                trade_type="JSAPI",
                sign_type=request.sign_type,
                attach=params.get("attach", ""),
                repeated=repeated,
                created_at=now,
                time_expire=time_expire,
                prepay_id=new_prepay_id(now),
                prepay_issued_at=now,
            )
            orders.orders[(mch_id, order.out_trade_no)] = order
        prepay_id = order.prepay_id
    return request.answer({"trade_type": "JSAPI", "prepay_id": prepay_id})


def _order_of(sandbox: Sandbox, request: PayRequest) -> PayOrder:
    """The order a query names, transaction_id first (查询订单: 二选一，建议优先使用微信订单号); call under the lock."""
    params = request.params
    if not params.get("transaction_id") and not params.get("out_trade_no"):
        raise PayRefusal("LACK_PARAMS", "缺少参数out_trade_no或transaction_id")
    orders = sandbox.part(PayOrders)
    order = orders.get(
        request.merchant.mch_id,
        out_trade_no=params.get("out_trade_no", ""),
        transaction_id=params.get("transaction_id", ""),
    )
    if order is None or order.mch_id != request.merchant.mch_id:
        raise PayRefusal("ORDERNOTEXIST")
    order.settle_expiry(sandbox.now())
    return order


def order_fields(order: PayOrder) -> dict[str, str]:
    """查询订单's answer for one order: the paid-only fields once it is paid."""
    fields = {
        "out_trade_no": order.out_trade_no,
        "trade_state": order.state,
        "trade_state_desc": TRADE_STATE_DESCRIPTIONS[order.state],
        "openid": order.openid,
        "trade_type": order.trade_type,
        "total_fee": str(order.total_fee),
        "fee_type": "CNY",
    }
    if order.attach:
        fields["attach"] = order.attach
    if order.state in PAID_STATES:
        fields.update(
            {
                "transaction_id": order.transaction_id,
                "time_end": beijing_stamp(order.time_end or 0),
                "bank_type": order.bank_type,
                "cash_fee": str(order.total_fee),
                "is_subscribe": "N",
            }
        )
    return fields


@pay_endpoint
def order_query(sandbox: Sandbox, request: PayRequest) -> Response:
    """POST XML: 查询订单 by transaction_id or out_trade_no → trade_state and the order's fields."""
    with sandbox.lock:
        fields = order_fields(_order_of(sandbox, request))
    return request.answer(fields)


@pay_endpoint
def close_order(sandbox: Sandbox, request: PayRequest) -> Response:
    """POST XML: 关闭订单: an unpaid order is closed; ORDERPAID if it was paid, ORDERCLOSED if already closed."""
    request.required("out_trade_no")
    with sandbox.lock:
        order = _order_of(sandbox, request)
        if order.state in PAID_STATES:
            raise PayRefusal("ORDERPAID")
        if order.state == "CLOSED":
            raise PayRefusal("ORDERCLOSED")
        if sandbox.now() < order.created_at + CLOSE_AFTER_SECONDS:
            # 关闭订单 lists no code of its own for this; its SYSTEMERROR ("系统异常，请重新调用该API") is
            # the documented answer that says "try again later", and the order stays open.
            raise PayRefusal("SYSTEMERROR", "订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟")
        order.state = "CLOSED"
    return request.answer({})


# --- the payment notification and the control API ------------------------------------------


def payment_notification(order: PayOrder, api_key: str, *, fields: dict[str, str], bad_signature: bool) -> str:
    """支付结果通知's body, signed with the order's sign_type (sign_type present only for HMAC-SHA256)."""
    message = {
        "appid": order.appid,
        "bank_type": order.bank_type,
        "cash_fee": str(order.total_fee),
        "fee_type": "CNY",
        "is_subscribe": "N",
        "mch_id": order.mch_id,
        "nonce_str": nonce(),
        "openid": order.openid,
        "out_trade_no": order.out_trade_no,
        "result_code": "SUCCESS",
        "return_code": "SUCCESS",
        "time_end": beijing_stamp(order.time_end or 0),
        "total_fee": str(order.total_fee),
        "trade_type": order.trade_type,
        "transaction_id": order.transaction_id,
    }
    if order.attach:
        message["attach"] = order.attach
    if order.sign_type == HMAC_SHA256:
        message["sign_type"] = HMAC_SHA256
    message.update(fields)
    message["sign"] = sign(message, api_key, order.sign_type)
    if bad_signature:  # one character off: what a forged or corrupted notification looks like
        message["sign"] = ("0" if message["sign"][0] != "0" else "1") + message["sign"][1:]
    return to_xml(message)


# How an order made through another API version is notified, by version: pay_v3_notifications registers
# v3's. A registry, because the v3 modules build on this order book and it must not import them.
PAYMENT_NOTIFIERS: dict[str, Callable[..., dict | None]] = {}


class ControlConflict(ControlError):
    status = 409


def _control_order(sandbox: Sandbox, out_trade_no: str, mch_id: str | None) -> PayOrder:
    """The order a control request names (mch_id needed only when two merchants share the number); under the lock."""
    matches = [
        order
        for order in sandbox.part(PayOrders).orders.values()
        if order.out_trade_no == out_trade_no and mch_id in (None, order.mch_id)
    ]
    if not matches:
        raise ControlNotFound(f"no order {out_trade_no!r}" + (f" of merchant {mch_id}" if mch_id else ""))
    if len(matches) > 1:
        raise BadControlInput(f"several merchants have order {out_trade_no!r}: give mch_id")
    matches[0].settle_expiry(sandbox.now())
    return matches[0]


def _enqueue_notification(
    sandbox: Sandbox, order: PayOrder, *, fields: dict[str, str], bad_signature: bool, description: str
) -> dict | None:
    if order.api_version != "v2":  # another API's own notification (v3: JSON, signed and encrypted)
        notifier = PAYMENT_NOTIFIERS.get(order.api_version)
        return (
            notifier(sandbox, order, fields=fields, bad_signature=bad_signature, description=description)
            if notifier
            else None
        )
    merchant = sandbox.part(Merchants).by_id.get(order.mch_id)
    if merchant is None or merchant.api_key is None:
        raise ControlConflict(f"merchant {order.mch_id} is not registered with its API key: register it again")
    body = payment_notification(order, merchant.api_key, fields=fields, bad_signature=bad_signature)
    delivery = sandbox.part(Outbox).enqueue(
        url=order.notify_url,
        body=body,
        content_type="text/xml",
        policy="pay_notification",
        description=description,
        now=sandbox.now(),
    )
    order.notifications.append(delivery.id)
    return delivery.as_dict()


def pay_order(sandbox: Sandbox, request: Request) -> Response:
    """POST {mch_id?, result: "SUCCESS" | "PAYERROR" | "USERPAYING", bank_type?}: the user pays in WeChat.

    SUCCESS marks the order paid (transaction_id, time_end) and posts the payment
    notification to notify_url through the outbox; PAYERROR and USERPAYING only set
    what orderquery answers. A paid or closed order is a 409.
    """
    body = ControlInput(request, allowed={"mch_id", "result", "bank_type"})
    result = body.text("result") or "SUCCESS"
    if result not in ("SUCCESS", "PAYERROR", "USERPAYING"):
        raise BadControlInput("result must be SUCCESS, PAYERROR or USERPAYING")
    bank_type = body.text("bank_type", max_length=32) or "OTHERS"
    with sandbox.lock:
        order = _control_order(sandbox, path_argument(request, "out_trade_no"), body.text("mch_id"))
        if order.state not in ("NOTPAY", "USERPAYING", "PAYERROR"):
            raise ControlConflict(f"order {order.out_trade_no} is {order.state}: it cannot be paid")
        order.state = result
        answer: dict = {"order": order.public()}
        if result == "SUCCESS":
            now = sandbox.now()
            day = datetime.fromtimestamp(now, BEIJING).strftime("%Y%m%d")
            order.transaction_id = "420000" + day + random_digits(14)
            order.time_end = now
            order.bank_type = bank_type
            answer["notification"] = _enqueue_notification(
                sandbox, order, fields={}, bad_signature=False, description=f"payment of {order.out_trade_no}"
            )
            answer["order"] = order.public()
    return json_response(answer, 201)


def notify_again(sandbox: Sandbox, request: Request) -> Response:
    """POST {mch_id?, fields?: {name: value}, bad_signature?}: post the paid order's notification again.

    A duplicate as WeChat sends one; `fields` changes values before signing (an amount
    that does not match ours), `bad_signature` corrupts the signature (a forgery).
    """
    body = ControlInput(request, allowed={"mch_id", "fields", "bad_signature"})
    fields = body.raw("fields") or {}
    if not isinstance(fields, dict) or not all(isinstance(v, str) and k != "sign" for k, v in fields.items()):
        raise BadControlInput("fields must be an object of string values (not sign)")
    with sandbox.lock:
        order = _control_order(sandbox, path_argument(request, "out_trade_no"), body.text("mch_id"))
        if order.state not in PAID_STATES:
            raise ControlConflict(f"order {order.out_trade_no} is {order.state}: WeChat notifies paid orders only")
        delivery = _enqueue_notification(
            sandbox,
            order,
            fields=fields,
            bad_signature=body.boolean("bad_signature"),
            description=f"payment of {order.out_trade_no} (sent again)",
        )
    return json_response({"notification": delivery}, 201)


def list_orders(sandbox: Sandbox, request: Request) -> Response:
    """GET: the sandbox's WeChat Pay orders with their state (no keys are kept with them)."""
    with sandbox.lock:
        orders = sandbox.part(PayOrders)
        now = sandbox.now()
        listing = [orders.settled(order, now).public() for order in orders.orders.values()]  # type: ignore[union-attr]
    return json_response({"count": len(listing), "orders": listing})


ROUTES = (
    Route("/pay/unifiedorder", ("POST",), unified_order, protocol=PAY_XML, max_body_bytes=64 * 1024),
    Route("/pay/orderquery", ("POST",), order_query, protocol=PAY_XML, max_body_bytes=64 * 1024),
    Route("/pay/closeorder", ("POST",), close_order, protocol=PAY_XML, max_body_bytes=64 * 1024),
    Route("/sandbox/pay/orders", ("GET",), list_orders),
    Route("/sandbox/pay/orders/<out_trade_no>/pay", ("POST",), pay_order),
    Route("/sandbox/pay/orders/<out_trade_no>/notify", ("POST",), notify_again),
)
