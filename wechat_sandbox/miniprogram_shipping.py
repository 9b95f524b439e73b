"""The Mini Program shipping service (小程序发货信息管理服务), as 小程序文档 "发货信息管理服务" describes it.

- `cgi-bin/express/delivery/open_msg/get_delivery_list` (物流查询 "获取运力id列表"): the carriers and
  their delivery_id.
- `wxa/sec/order/upload_shipping_info` (一、发货信息录入接口): the payment named by order_key must exist
  (10060001) and be paid (10060004); a payment fully shipped (统一发货, or 分拆发货 with is_all_delivered)
  may be shipped again once — "每笔支付单仅有一次重新发货机会", which also counts a change of delivery or
  logistics mode — then 10060003; upload_time must be RFC 3339 and later than the last upload's
  (268485216 "上传时间非法，请按照 RFC 3339 格式填写"); split delivery is for express only (10060006) and
  needs is_all_delivered (10060007); at most 15 parcels (10060024); item_desc is required (10060008) and
  at most 120 characters (10060009). The document's table gives no code of its own for an unknown
  express_company, nor for SF Express (顺丰) without a contact ("当发货的物流公司为顺丰时，联系方式为必填，
  收件人或寄件人联系方式二选一"): both get its 10060014 "参数错误，根据错误提示填写正确参数" with the hint.
- 九、相关消息推送: `trade_manage_order_settlement` is pushed to the Mini Program's message push URL when a
  payment is fully shipped (with estimated_settlement_time) and when it settles after the buyer confirmed
  receipt (confirm_receive_method 1 automatic, 2 by the buyer; confirm_receive_time; settlement_time).
  Signed, and encrypted in safe mode, as pushes to an Official Account are (消息推送 uses the same scheme).

Control: GET /sandbox/miniprogram/shippings lists what each payment's shipping is; POST
/sandbox/miniprogram/shippings/confirm-receipt has the buyer confirm receipt, which pushes the event.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime

from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, ControlNotFound, WeChatErrcode
from wechat_sandbox.official_account_push import XmlValue, push_to_official_account
from wechat_sandbox.pay_orders import PayOrder, PayOrders
from wechat_sandbox.protocols import json_response
from wechat_sandbox.routes import Route, json_body_of
from wechat_sandbox.state import Sandbox, snapshot_part
from wechat_sandbox.tokens import authenticated_app

MINI_PROGRAMS_ONLY = ("mini_program",)

# 获取运力id列表's answer, as WeChat lists these carriers (delivery_id, delivery_name).
DELIVERY_COMPANIES: tuple[tuple[str, str], ...] = (
    ("SF", "顺丰速运"),
    ("ZTO", "中通快递"),
    ("YTO", "圆通速递"),
    ("YD", "韵达速递"),
    ("STO", "申通快递"),
    ("JD", "京东物流"),
    ("EMS", "中国邮政速递物流"),
    ("JTSD", "极兔速递"),
    ("YZPY", "邮政快递包裹"),
    ("DBL", "德邦快递"),
)
SF_EXPRESS = "SF"
MAX_PARCELS = 15
MAX_ITEM_DESC_CHARACTERS = 120
# RFC 3339: date, "T", time with optional fraction, then "Z" or an offset with a colon.
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
# 联系方式 "采用掩码传输，最后4位数字不能打掩码".
MASKED_CONTACT = re.compile(r".*\*.*\d{4}")

ERRMSGS = {
    10060001: "支付单不存在",
    10060003: "支付单已使用重新发货机会",
    10060004: "支付单处于不可发货的状态",
    10060005: "物流类型有误",
    10060006: "非快递发货时不允许分拆发货",
    10060007: "分拆发货模式时必须填写 is_all_delivered 字段",
    10060008: "商品描述字段不能为空",
    10060009: "商品描述字段不能超过 120 个字",
    10060014: "参数错误，根据错误提示填写正确参数",
    10060024: "物流信息列表太长",
    268485216: "上传时间非法，请按照 RFC 3339 格式填写",
    268485224: "发货模式非法",
}


def _refuse(errcode: int, hint: str = "") -> WeChatErrcode:
    message = ERRMSGS[errcode] + (f", hint: [{hint}]" if hint else "")
    return WeChatErrcode(errcode, message)


@dataclass
class ShippingRecord:
    """What WeChat holds about one payment's shipping."""

    appid: str
    mch_id: str
    out_trade_no: str
    transaction_id: str
    payer_openid: str
    logistics_type: int
    delivery_mode: int
    is_all_delivered: bool
    shipping_list: list[dict]
    upload_time: float
    shipped_at: float
    uploads: int = 1
    reshipped: bool = False  # the one 重新发货 chance is spent
    confirmed_at: float | None = None
    confirm_receive_method: int | None = None
    pushes: list[int] = field(default_factory=list)  # outbox delivery ids

    @property
    def fully_shipped(self) -> bool:
        return self.delivery_mode == 1 or self.is_all_delivered

    def public(self) -> dict:
        return {**asdict(self), "fully_shipped": self.fully_shipped}


@snapshot_part("miniprogram_shippings")
class Shippings:
    """Each payment's shipping by transaction_id; use under the lock."""

    def __init__(self) -> None:
        self.records: dict[str, ShippingRecord] = {}

    def forget_app(self, appid: str) -> None:
        self.records = {key: record for key, record in self.records.items() if record.appid != appid}

    def to_snapshot(self) -> dict:
        return {"records": [asdict(record) for record in self.records.values()]}

    @classmethod
    def from_snapshot(cls, data: dict) -> Shippings:
        part = cls()
        for entry in data["records"]:
            record = ShippingRecord(**entry)
            part.records[record.transaction_id] = record
        return part


def get_delivery_list(sandbox: Sandbox, request: Request) -> Response:
    """WeChat cgi-bin/express/delivery/open_msg/get_delivery_list: POST {} gives every carrier's delivery_id."""
    authenticated_app(sandbox, request)
    companies = [{"delivery_id": key, "delivery_name": name} for key, name in DELIVERY_COMPANIES]
    return json_response({"errcode": 0, "errmsg": "ok", "delivery_list": companies, "count": len(companies)})


def _parse_time(text: object) -> float:
    if not isinstance(text, str) or not RFC3339.fullmatch(text):
        raise _refuse(268485216)
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise _refuse(268485216) from None


def _paid_order(sandbox: Sandbox, appid: str, order_key: object) -> PayOrder:
    if not isinstance(order_key, dict) or order_key.get("order_number_type") not in (1, 2):
        raise _refuse(10060014, "order_key.order_number_type must be 1 or 2")
    orders = sandbox.part(PayOrders)
    if order_key["order_number_type"] == 2:
        order = orders.get("", transaction_id=str(order_key.get("transaction_id") or ""))
    else:
        order = orders.get(str(order_key.get("mchid") or ""), out_trade_no=str(order_key.get("out_trade_no") or ""))
    if order is None or order.appid != appid or not order.transaction_id:
        raise _refuse(10060001)
    if order.state != "SUCCESS":  # refunded, closed or unpaid payments have nothing to ship
        raise _refuse(10060004)
    return order


def _checked_parcels(body: dict, logistics_type: int, delivery_mode: int) -> list[dict]:
    parcels = body.get("shipping_list")
    if not isinstance(parcels, list) or not parcels:
        raise _refuse(10060014, "shipping_list is required")
    if len(parcels) > MAX_PARCELS:
        raise _refuse(10060024)
    if delivery_mode == 1 and len(parcels) > 1:
        raise _refuse(10060014, "UNIFIED_DELIVERY takes one shipping_list entry")
    known = {key for key, _ in DELIVERY_COMPANIES}
    for parcel in parcels:
        if not isinstance(parcel, dict):
            raise _refuse(10060014, "shipping_list entries are objects")
        item_desc = parcel.get("item_desc")
        if not isinstance(item_desc, str) or not item_desc.strip():
            raise _refuse(10060008)
        if len(item_desc) > MAX_ITEM_DESC_CHARACTERS:
            raise _refuse(10060009)
        if logistics_type != 1:
            continue
        if not parcel.get("tracking_no") or not parcel.get("express_company"):
            raise _refuse(10060014, "tracking_no and express_company are required for express delivery")
        if parcel["express_company"] not in known:
            raise _refuse(10060014, f"express_company {parcel['express_company']} is not a delivery_id")
        contact = parcel.get("contact") if isinstance(parcel.get("contact"), dict) else {}
        given = [str(contact.get(name) or "") for name in ("receiver_contact", "consignor_contact")]
        if parcel["express_company"] == SF_EXPRESS and not any(given):
            raise _refuse(10060014, "contact is required for SF: receiver_contact or consignor_contact")
        if any(value and not MASKED_CONTACT.fullmatch(value) for value in given):
            raise _refuse(10060014, "contact must be masked, the last 4 digits unmasked")
    return parcels


def upload_shipping_info(sandbox: Sandbox, request: Request) -> Response:
    """WeChat wxa/sec/order/upload_shipping_info: POST the shipping of one paid payment; one re-shipping allowed."""
    app = authenticated_app(sandbox, request)
    body = json_body_of(request)
    logistics_type, delivery_mode = body.get("logistics_type"), body.get("delivery_mode")
    if logistics_type not in (1, 2, 3, 4):
        raise _refuse(10060005)
    if delivery_mode not in (1, 2):
        raise _refuse(268485224)
    if delivery_mode == 2 and logistics_type != 1:
        raise _refuse(10060006)
    if delivery_mode == 2 and not isinstance(body.get("is_all_delivered"), bool):
        raise _refuse(10060007)
    parcels = _checked_parcels(body, logistics_type, delivery_mode)
    upload_time = _parse_time(body.get("upload_time"))
    payer = body.get("payer") if isinstance(body.get("payer"), dict) else {}
    with sandbox.lock:
        order = _paid_order(sandbox, app.appid, body.get("order_key"))
        if payer.get("openid") != order.openid:
            raise _refuse(10060014, "payer.openid is not the payer of this payment")
        records = sandbox.part(Shippings)
        record = records.records.get(order.transaction_id)
        is_all_delivered = delivery_mode == 1 or bool(body.get("is_all_delivered"))
        now = sandbox.now()
        if record is None:
            record = ShippingRecord(
                appid=app.appid,
                mch_id=order.mch_id,
                out_trade_no=order.out_trade_no,
                transaction_id=order.transaction_id,
                payer_openid=order.openid,
                logistics_type=logistics_type,
                delivery_mode=delivery_mode,
                is_all_delivered=is_all_delivered,
                shipping_list=parcels,
                upload_time=upload_time,
                shipped_at=now,
            )
            records.records[order.transaction_id] = record
        else:
            if record.confirmed_at is not None:
                raise _refuse(10060004)
            if upload_time <= record.upload_time:
                raise _refuse(268485216, "upload_time must be later than the last upload's")
            # 视为重新发货: another upload after full shipment, or a change of delivery or logistics mode.
            reshipping = record.fully_shipped or (record.delivery_mode, record.logistics_type) != (
                delivery_mode,
                logistics_type,
            )
            if reshipping and record.reshipped:
                raise _refuse(10060003)
            record.reshipped = record.reshipped or reshipping
            was_fully_shipped = record.fully_shipped
            record.logistics_type, record.delivery_mode = logistics_type, delivery_mode
            record.is_all_delivered, record.shipping_list = is_all_delivered, parcels
            record.upload_time, record.uploads = upload_time, record.uploads + 1
            if was_fully_shipped:
                return json_response({"errcode": 0, "errmsg": "ok"})
        if record.fully_shipped:
            _settlement_push(sandbox, record, order, {"estimated_settlement_time": int(now) + 10 * 86400})
    return json_response({"errcode": 0, "errmsg": "ok"})


def _settlement_push(sandbox: Sandbox, record: ShippingRecord, order: PayOrder, extra: dict[str, int]) -> int | None:
    """Push trade_manage_order_settlement to the Mini Program, if its message push URL is set (under the lock)."""
    app = sandbox.app(record.appid)
    if app is None or app.callback is None or app.callback.token is None:
        return None  # no message push configured: WeChat has nowhere to push
    fields: dict[str, XmlValue] = {
        "CreateTime": int(sandbox.now()),
        "MsgType": "event",
        "Event": "trade_manage_order_settlement",
        "transaction_id": record.transaction_id,
        "merchant_id": record.mch_id,
        "sub_merchant_id": "",
        "merchant_trade_no": record.out_trade_no,
        "pay_time": int(order.time_end or record.shipped_at),
        "shipped_time": int(record.shipped_at),
        **extra,
    }
    delivery = push_to_official_account(
        sandbox,
        app,
        openid=record.payer_openid,
        fields=fields,
        description=f"trade_manage_order_settlement for {record.transaction_id}",
    )
    record.pushes.append(delivery.id)
    return delivery.id


def list_shippings(sandbox: Sandbox, request: Request) -> Response:
    """GET: every payment's shipping as WeChat holds it (parcels, uploads, re-shipping used, receipt)."""
    with sandbox.lock:
        records = [record.public() for record in sandbox.part(Shippings).records.values()]
    return json_response({"shippings": records})


def confirm_receipt(sandbox: Sandbox, request: Request) -> Response:
    """POST {"transaction_id" | "out_trade_no", "method"?}: the buyer confirms receipt in WeChat (201).

    method 2 (the buyer, the default) or 1 (automatic). The payment must be fully shipped. The
    trade_manage_order_settlement event is pushed to the Mini Program's message push URL
    (register the app with a callback) and retried as WeChat retries.
    """
    body = ControlInput(request, allowed={"transaction_id", "out_trade_no", "method"})
    transaction_id, out_trade_no = body.text("transaction_id"), body.text("out_trade_no")
    method = body.integer("method", minimum=1, maximum=2) or 2
    with sandbox.lock:
        records = sandbox.part(Shippings).records.values()
        record = next(
            (
                found
                for found in records
                if (transaction_id and found.transaction_id == transaction_id)
                or (out_trade_no and found.out_trade_no == out_trade_no)
            ),
            None,
        )
        if record is None:
            raise ControlNotFound("no shipping reported for that payment")
        if not record.fully_shipped:
            raise BadControlInput("the payment is not fully shipped yet (is_all_delivered is false)")
        if record.confirmed_at is not None:
            raise BadControlInput("receipt is confirmed already")
        app = sandbox.app(record.appid)
        order = sandbox.part(PayOrders).get("", transaction_id=record.transaction_id)
        if app is None or app.callback is None or app.callback.token is None or order is None:
            raise BadControlInput(f"{record.appid} has no message push URL: register it with a callback")
        now = sandbox.now()
        record.confirmed_at, record.confirm_receive_method = now, method
        extra = {"confirm_receive_method": method, "confirm_receive_time": int(now), "settlement_time": int(now)}
        delivery_id = _settlement_push(sandbox, record, order, extra)
        return json_response({"shipping": record.public(), "delivery_id": delivery_id}, 201)


ROUTES = (
    Route(
        "/cgi-bin/express/delivery/open_msg/get_delivery_list",
        ("POST",),
        get_delivery_list,
        app_kinds=MINI_PROGRAMS_ONLY,
    ),
    Route(
        "/wxa/sec/order/upload_shipping_info",
        ("POST",),
        upload_shipping_info,
        app_kinds=MINI_PROGRAMS_ONLY,
        json_body=True,
    ),
    Route("/sandbox/miniprogram/shippings", ("GET",), list_shippings),
    Route("/sandbox/miniprogram/shippings/confirm-receipt", ("POST",), confirm_receipt),
)
