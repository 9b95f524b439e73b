"""The order fields a keyword can show, the keyword types each suits, and their values as a buyer reads them.

Values are written as WeChat shows them in Chinese (the message's language): times in Beijing time as
"2026年12月5日 19:14", amounts as "39.90元", the order's status and carrier by their Chinese names.
"""

from zoneinfo import ZoneInfo

from django.db import models
from django.db.models import Sum
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from config.money import yuan_from_fen
from orders.models import Carrier, Order, Refund, RefundStatus
from subscribe_messages.keyword_types import KeywordType

BEIJING = ZoneInfo("Asia/Shanghai")
MESSAGE_LANGUAGE = "zh-hans"


class OrderField(models.TextChoices):
    ORDER_NO = "order_no", _("order number")
    TOTAL = "total", _("order amount")
    REFUNDED = "refunded", _("refunded amount")
    PRODUCTS = "products", _("products")
    ITEM_COUNT = "item_count", _("number of items")
    STATUS = "status", _("order status")
    CREATED_AT = "created_at", _("ordered at")
    PAID_AT = "paid_at", _("paid at")
    SHIPPED_AT = "shipped_at", _("shipped at")
    CARRIER = "carrier", _("carrier")
    TRACKING_NUMBER = "tracking_number", _("tracking number")
    RECIPIENT = "recipient", _("recipient")
    PHONE = "phone", _("recipient's phone")
    ADDRESS = "address", _("shipping address")
    NOTE = "note", _("buyer's note")
    REFUND_REASON = "refund_reason", _("refund reason")
    FIXED_TEXT = "fixed_text", _("fixed text")


T = KeywordType
# Which keyword types can show each field: a field's values always have the shape the type needs
# (a thing takes any text, shortened if long). Fixed text suits every type; its value is checked on save.
SUITABLE_TYPES: dict[str, frozenset[KeywordType]] = {
    OrderField.ORDER_NO: frozenset({T.CHARACTER_STRING, T.NUMBER}),
    OrderField.TOTAL: frozenset({T.AMOUNT}),
    OrderField.REFUNDED: frozenset({T.AMOUNT}),
    OrderField.PRODUCTS: frozenset({T.THING}),
    OrderField.ITEM_COUNT: frozenset({T.NUMBER, T.THING}),
    OrderField.STATUS: frozenset({T.PHRASE, T.THING}),
    OrderField.CREATED_AT: frozenset({T.TIME, T.DATE}),
    OrderField.PAID_AT: frozenset({T.TIME, T.DATE}),
    OrderField.SHIPPED_AT: frozenset({T.TIME, T.DATE}),
    OrderField.CARRIER: frozenset({T.THING}),
    OrderField.TRACKING_NUMBER: frozenset({T.CHARACTER_STRING, T.THING}),
    OrderField.RECIPIENT: frozenset({T.NAME, T.THING}),
    OrderField.PHONE: frozenset({T.PHONE_NUMBER, T.THING}),
    OrderField.ADDRESS: frozenset({T.THING}),
    OrderField.NOTE: frozenset({T.THING}),
    OrderField.REFUND_REASON: frozenset({T.THING}),
    OrderField.FIXED_TEXT: frozenset(KeywordType),
}


def _moment(value, keyword_type: KeywordType) -> str:
    if value is None:
        return ""
    local = value.astimezone(BEIJING)
    day = f"{local.year}年{local.month}月{local.day}日"
    return day if keyword_type == T.DATE else f"{day} {local:%H:%M}"


def _amount(fen: int) -> str:
    return f"{yuan_from_fen(fen)}元"


def _products(order: Order) -> str:
    lines = list(order.lines.all())
    if not lines:
        return ""
    count = sum(line.quantity for line in lines)
    return lines[0].title if len(lines) == 1 and count == 1 else f"{lines[0].title}等{count}件"


def _refunds(order: Order):
    return Refund.objects.filter(payment__order=order, status=RefundStatus.SUCCEEDED)


def order_field_value(*, order: Order, order_field: str, keyword_type: KeywordType, fixed_text: str = "") -> str:
    """The field's value for `order`, as text for a keyword of `keyword_type` (not yet checked against it)."""
    with translation.override(MESSAGE_LANGUAGE):
        match order_field:
            case OrderField.ORDER_NO:
                return order.order_no
            case OrderField.TOTAL:
                return _amount(order.total_fen)
            case OrderField.REFUNDED:
                return _amount(_refunds(order).aggregate(total=Sum("amount_fen"))["total"] or 0)
            case OrderField.PRODUCTS:
                return _products(order)
            case OrderField.ITEM_COUNT:
                return str(order.lines.aggregate(total=Sum("quantity"))["total"] or 0)
            case OrderField.STATUS:
                return str(order.get_status_display())
            case OrderField.CREATED_AT | OrderField.PAID_AT | OrderField.SHIPPED_AT:
                return _moment(getattr(order, order_field), keyword_type)
            case OrderField.CARRIER:
                return Carrier(order.carrier).label if order.carrier else ""
            case OrderField.TRACKING_NUMBER:
                return order.tracking_number
            case OrderField.RECIPIENT:
                return order.recipient
            case OrderField.PHONE:
                return order.phone
            case OrderField.ADDRESS:
                return f"{order.province}{order.city}{order.district}{order.address_detail}"
            case OrderField.NOTE:
                return order.note
            case OrderField.REFUND_REASON:
                latest = _refunds(order).order_by("-created_at", "-id").first()
                return latest.reason if latest else ""
            case OrderField.FIXED_TEXT:
                return fixed_text
    raise ValueError(f"unknown order field {order_field!r}")
