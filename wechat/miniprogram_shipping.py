"""The Mini Program shipping service (小程序发货信息管理服务): the carrier list and shipping uploads.

Follows 小程序文档 "发货信息管理服务" (order-shipping.html): 一、发货信息录入接口
(`wxa/sec/order/upload_shipping_info`, 服务端 API "发货信息录入 uploadShippingInfo") and
物流查询 "获取运力id列表 get_delivery_list" (`cgi-bin/express/delivery/open_msg/get_delivery_list`).
wechatpy has no method for either: both go through its client's generic `post`, so tokens,
timeouts, the API host and error mapping stay those of every other call (wechat.clients).
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from wechat.clients import mini_program_client
from wechat.errors import WeChatPermanentError, WeChatTransientError
from wechat.models import MiniProgram

UPLOAD_SHIPPING_INFO_URL = "https://api.weixin.qq.com/wxa/sec/order/upload_shipping_info"
GET_DELIVERY_LIST_URL = "https://api.weixin.qq.com/cgi-bin/express/delivery/open_msg/get_delivery_list"

# 发货信息录入, 请求参数: logistics_type 1 实体物流配送 (express), 2 同城配送, 3 虚拟商品, 4 用户自提.
LOGISTICS_EXPRESS = 1
LOGISTICS_VIRTUAL = 3
# delivery_mode 1 UNIFIED_DELIVERY (one parcel), 2 SPLIT_DELIVERY (several; is_all_delivered required).
DELIVERY_UNIFIED = 1
DELIVERY_SPLIT = 2
# "分拆发货仅支持使用物流快递发货，一笔支付单最多分拆成 15 个包裹"; item_desc "限120个字以内".
MAX_PARCELS = 15
MAX_ITEM_DESC_CHARACTERS = 120

# Codes of the 错误码 table of 发货信息录入 that say "try again": 系统繁忙 (-1, 10060012, 10060019), and
# 10060001 支付单不存在 right after payment ("支付后订单需要入库，如果查不到可以等待1分钟后再试", WeChat's
# answer in its developer community): the task's bounded retries give it that minute.
TRANSIENT_SHIPPING_ERRCODES = frozenset({-1, 10060012, 10060019, 10060001})
# 10060002 支付单已完成发货，无法继续发货; 10060003 支付单已使用重新发货机会 (one re-upload a payment).
ALREADY_SHIPPED_ERRCODES = frozenset({10060002, 10060003})


class ShippingRefused(WeChatPermanentError):
    """WeChat refused the upload: the errcode says why (the caller words it for staff)."""


class ShippingBusy(WeChatTransientError):
    """WeChat is busy, or does not know the payment yet: the same upload may succeed later."""


@dataclass(frozen=True)
class DeliveryCompany:
    delivery_id: str
    name: str


@dataclass(frozen=True)
class OrderKey:
    """Which payment shipped: its transaction_id (order_number_type 2), or the merchant and out_trade_no (1)."""

    transaction_id: str = ""
    mchid: str = ""
    out_trade_no: str = ""

    def as_json(self) -> dict:
        if self.transaction_id:
            return {"order_number_type": 2, "transaction_id": self.transaction_id}
        return {"order_number_type": 1, "mchid": self.mchid, "out_trade_no": self.out_trade_no}


@dataclass(frozen=True)
class ParcelShipped:
    item_desc: str
    # Express only: WeChat's delivery_id (get_delivery_list) and the waybill number.
    tracking_no: str = ""
    express_company: str = ""
    # Masked ("189****1234", mask_phone); required by WeChat for SF Express (顺丰), sent whenever we have it.
    receiver_contact: str = ""

    def as_json(self) -> dict:
        parcel: dict = {"item_desc": self.item_desc}
        if self.tracking_no:
            parcel |= {"tracking_no": self.tracking_no, "express_company": self.express_company}
        if self.receiver_contact:
            parcel["contact"] = {"receiver_contact": self.receiver_contact}
        return parcel


@dataclass(frozen=True)
class ShippingUpload:
    order_key: OrderKey
    payer_openid: str
    logistics_type: int
    parcels: tuple[ParcelShipped, ...]
    # Split delivery only: False while more parcels are to come (WeChat tells the buyer when it is True).
    all_delivered: bool = True
    upload_time: datetime | None = field(default=None, compare=False)

    @property
    def delivery_mode(self) -> int:
        return DELIVERY_SPLIT if len(self.parcels) > 1 or not self.all_delivered else DELIVERY_UNIFIED

    def as_json(self) -> dict:
        if self.upload_time is None or self.upload_time.tzinfo is None:
            raise ValueError("upload_time must be an aware datetime")
        body = {
            "order_key": self.order_key.as_json(),
            "logistics_type": self.logistics_type,
            "delivery_mode": self.delivery_mode,
            "shipping_list": [parcel.as_json() for parcel in self.parcels],
            "upload_time": rfc3339(self.upload_time),
            "payer": {"openid": self.payer_openid},
        }
        if self.delivery_mode == DELIVERY_SPLIT:
            body["is_all_delivered"] = self.all_delivered
        return body


def rfc3339(moment: datetime) -> str:
    """RFC 3339 with milliseconds and the offset, as the document's example `2022-12-15T13:29:35.120+08:00`."""
    return moment.isoformat(timespec="milliseconds")


def mask_phone(phone: str) -> str:
    """联系方式 "采用掩码传输，最后4位数字不能打掩码": the first 3 and last 4 digits kept (189****1234)."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return ""
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def shipping_info_upload(*, upload: ShippingUpload, mini_program: MiniProgram | None = None) -> None:
    """Tell WeChat what shipped for one payment; raises ShippingRefused or ShippingBusy (and our other errors)."""
    try:
        mini_program_client(mini_program).post(UPLOAD_SHIPPING_INFO_URL, data=upload.as_json())
    except WeChatPermanentError as error:
        if error.errcode in TRANSIENT_SHIPPING_ERRCODES:
            raise ShippingBusy(str(error), errcode=error.errcode, body=error.body) from error
        raise ShippingRefused(str(error), errcode=error.errcode, body=error.body) from error


def delivery_companies_fetch(*, mini_program: MiniProgram | None = None) -> list[DeliveryCompany]:
    """WeChat's carriers (运力) and their delivery_id, which upload_shipping_info's express_company must be."""
    answer = mini_program_client(mini_program).post(GET_DELIVERY_LIST_URL, data={})
    return [
        DeliveryCompany(delivery_id=str(entry["delivery_id"]), name=str(entry.get("delivery_name", "")))
        for entry in answer.get("delivery_list", [])
        if entry.get("delivery_id")
    ]
