"""The payment gateway's interface: the operations our shop needs from WeChat Pay, whatever API version serves them.

v2 (XML, signed with the API key) is `wechat.pay.v2.WeChatPayV2`; v3 (JSON, RSA) is
`wechat.pay.v3.WeChatPayV3` beside it, and `wechat.pay.gateway.payment_gateway` chooses by
`MerchantConfig.version`. Backends import this module; nothing here imports a backend.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal, Protocol

from wechat.errors import WeChatPermanentError

# WeChat Pay's time rules, the same in v2 and v3 (统一下单 / JSAPI下单, 关闭订单):
# time_expire must be at least this far from the request ("time_expire时间过短，刷卡至少1分钟，其他5分钟") ...
TIME_EXPIRE_MIN_AHEAD = timedelta(minutes=5)
# ... and an order cannot be closed before it is this old ("订单生成后不能马上调用关单接口，最短调用时间间隔为5分钟").
CLOSE_MIN_AGE = timedelta(minutes=5)


class InvalidPayMessage(WeChatPermanentError):
    """A WeChat Pay message we cannot trust: malformed, a DTD or entity, a wrong signature, another merchant."""


class MalformedPayMessage(InvalidPayMessage):
    """Not a WeChat Pay message at all: not well-formed, or XML with a DTD or entities."""


@dataclass(frozen=True)
class MerchantConfig:
    appid: str
    mch_id: str
    api_key: str
    api_base_url: str
    timeout: float
    sign_type: Literal["MD5", "HMAC-SHA256"] = "MD5"
    cert_path: str | None = None
    key_path: str | None = None
    # secapi/ calls (refunds) present the merchant certificate; WeChat serves them on the same host,
    # the sandbox on its TLS port. None: api_base_url.
    secapi_base_url: str | None = None
    # The CA bundle WeChat Pay's server certificate is checked with; None: the system's.
    ca_bundle: str | None = None
    version: Literal["v2", "v3"] = "v2"
    # APIv3 (wechat.pay.v3): where it is served, the merchant's API private key (PEM) and its certificate's
    # serial, the APIv3 key, and how WeChat Pay's answers are checked: its public key (PEM, and the id
    # answers name) or the platform certificates downloaded with the APIv3 key.
    v3_base_url: str = "https://api.mch.weixin.qq.com/"
    private_key: str = field(default="", repr=False)
    certificate_serial: str = ""
    apiv3_key: str = field(default="", repr=False)
    verification: Literal["public_key", "platform_certificate"] = "public_key"
    wechatpay_public_key: str = field(default="", repr=False)
    wechatpay_public_key_id: str = ""


@dataclass(frozen=True)
class PrepayResult:
    prepay_id: str
    sign_type: str


@dataclass(frozen=True)
class OrderStatus:
    out_trade_no: str
    trade_state: str
    total_fee: int
    transaction_id: str | None = None
    time_end: str | None = None  # yyyyMMddHHmmss, Beijing time, once paid


@dataclass(frozen=True)
class RefundResult:
    out_refund_no: str
    refund_id: str
    refund_fee: int


@dataclass(frozen=True)
class RefundStatus:
    out_refund_no: str
    refund_id: str
    refund_fee: int
    refund_status: str  # PROCESSING, SUCCESS, CHANGE, REFUNDCLOSE


@dataclass(frozen=True)
class PaymentNotification:
    """支付结果通知, verified: what WeChat says became of one unified order."""

    out_trade_no: str
    transaction_id: str
    total_fee: int
    openid: str
    time_end: str
    result_code: str
    # The method its signature checked out with. WeChat signs as the order was signed, and may not
    # say how, so only the business knows whether this is the method its order used.
    sign_type: str
    raw_body: str  # as WeChat posted it, for the record staff read
    # The Mini Program and merchant it was verified for: a payment made through another is not its to settle.
    appid: str = ""
    mch_id: str = ""
    # 货币类型 (v2 fee_type, v3 amount.currency): absent means CNY, WeChat's default.
    fee_type: str = "CNY"


@dataclass(frozen=True)
class RefundNotification:
    """退款结果通知, decrypted: what WeChat says became of one refund."""

    out_refund_no: str
    out_trade_no: str
    refund_id: str
    transaction_id: str
    total_fee: int
    refund_fee: int
    refund_status: str  # SUCCESS, CHANGE (failed: to be handled by hand), REFUNDCLOSE
    success_time: str = ""
    # The Mini Program and merchant it was decrypted for.
    appid: str = ""
    mch_id: str = ""


class PaymentGateway(Protocol):
    def prepay(
        self,
        *,
        out_trade_no: str,
        total_fee: int,
        openid: str,
        body: str,
        notify_url: str,
        time_expire: datetime,
        client_ip: str,
    ) -> PrepayResult: ...

    def payment_parameters(self, prepay: PrepayResult) -> dict[str, str]: ...

    def order_query(self, out_trade_no: str) -> OrderStatus: ...

    def order_close(self, out_trade_no: str) -> None: ...

    def refund(
        self, *, out_trade_no: str, out_refund_no: str, total_fee: int, refund_fee: int, notify_url: str | None = None
    ) -> RefundResult: ...

    def refund_query(self, out_refund_no: str) -> RefundStatus: ...

    def bill_download(self, bill_date: date, bill_type: str = "ALL", *, gzip: bool = True) -> Iterator[str]: ...

    def notification_verify(
        self, body: bytes, sign_type: str | None = None, *, fields: Mapping[str, str] | None = None
    ) -> PaymentNotification: ...

    def refund_notification_verify(
        self, body: bytes, *, fields: Mapping[str, str] | None = None
    ) -> RefundNotification: ...
