"""Orders as a sheet for operations: CSV (UTF-8 with a BOM, so Excel reads the Chinese) or XLSX.

The columns start with 订单号 / 快递公司 / 运单号's English sources (order number, carrier, tracking
number), so an exported sheet, with the last two filled in, is a shipping sheet
(orders.shipping_sheets reads these headers in either language). Times are Beijing time, money yuan.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils.translation import gettext as _
from openpyxl import Workbook

from config.money import yuan_from_fen
from orders.models import Order

BEIJING = ZoneInfo("Asia/Shanghai")
# Big enough that a day's or a month's orders go out whole, and the rows are fetched in bounded batches.
EXPORT_CHUNK_SIZE = 1000
# What a spreadsheet would read as a formula: shoppers type names, notes and addresses themselves.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _header() -> list[str]:
    return [
        _("Order number"),
        _("Carrier"),
        _("Tracking number"),
        _("Status"),
        _("Recipient"),
        _("Phone"),
        _("Address"),
        _("Items"),
        _("Quantity"),
        _("Total (yuan)"),
        _("Note"),
        _("Ordered at"),
        _("Paid at"),
        _("Shipped at"),
        _("Customer openid"),
    ]


def _time(value) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _text(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _items(order: Order) -> str:
    parts = []
    for line in order.lines.all():
        specs = " ".join(str(value) for value in line.specs.values()) if isinstance(line.specs, dict) else ""
        parts.append(f"{line.title}{f' ({specs})' if specs else ''} × {line.quantity}")
    return "; ".join(parts)


def _row(order: Order) -> list:
    return [
        order.order_no,
        order.get_carrier_display() if order.carrier else "",
        order.tracking_number,
        order.get_status_display(),
        _text(order.recipient),
        _text(order.phone),
        _text(f"{order.province}{order.city}{order.district}{order.address_detail}"),
        _text(_items(order)),
        sum(line.quantity for line in order.lines.all()),
        yuan_from_fen(order.total_fen),
        _text(order.note),
        _time(order.created_at),
        _time(order.paid_at),
        _time(order.shipped_at),
        order.customer.openid,
    ]


def order_export_rows(*, orders: QuerySet[Order]) -> Iterator[list]:
    """The header, then a row per order; the orders read EXPORT_CHUNK_SIZE at a time with their lines."""
    yield _header()
    chunked = orders.select_related("customer").prefetch_related("lines").iterator(chunk_size=EXPORT_CHUNK_SIZE)
    for order in chunked:
        yield _row(order)


class _Echo:
    def write(self, value: str) -> str:
        return value


def order_export_csv(rows: Iterable[list]) -> Iterator[str]:
    """CSV lines to stream, the first with the BOM Excel needs to read UTF-8."""
    writer = csv.writer(_Echo())
    yield "\ufeff"
    for row in rows:
        yield writer.writerow([f"{value:.2f}" if isinstance(value, Decimal) else value for value in row])


def order_export_xlsx(rows: Iterable[list]) -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(_("Orders"))
    for row in rows:
        # Every text cell as text: an order number or phone must not become a number, nor "=..." a formula.
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
