"""The payment gateway's interface: the operations our shop needs from WeChat Pay, whatever API version serves them.

v2 (XML, signed with the API key) is `wechat.pay.v2.WeChatPayV2`; a v3 backend (JSON, RSA) would
implement the same Protocol beside it, and `wechat.pay.gateway.payment_gateway` would choose it by
`MerchantConfig.version`. Backends import this module; nothing here imports a backend.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

from wechat.errors import WeChatPermanentError


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

    def notification_verify(self, body: bytes, sign_type: str | None = None) -> PaymentNotification: ...

    def refund_notification_verify(self, body: bytes) -> RefundNotification: ...
