"""Shipping many orders from a sheet: every row checked first, then all shipped in one transaction, or none.

Each order is shipped through order_parcels_ship (the status machine, then its parcel reported to
WeChat once the sheet commits), so each gets its event on the timeline. A row that fails while
shipping (another member of staff shipped the order meanwhile) rolls the whole sheet back and is
reported like any other bad row.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from config.errors import ApplicationError
from orders.carriers import carrier_from_text, tracking_number_fits, tracking_number_normalize
from orders.exceptions import ShipmentSheetInvalid
from orders.models import Carrier, Order, OrderStatus
from orders.services.shipments import ParcelInput, order_parcels_ship

# More rows than a day's parcels of a small shop; a bigger sheet is split.
MAX_SHEET_ROWS = 2000


@dataclass(frozen=True)
class ShipmentRow:
    """One row of a sheet as staff typed it; `number` is the sheet's row number (the header is row 1)."""

    number: int
    order_no: str
    carrier: str
    tracking_number: str


@dataclass(frozen=True)
class CheckedShipment:
    row_number: int
    order: Order
    carrier: str
    tracking_number: str


def _row_check(row: ShipmentRow, orders: dict[str, Order], seen: dict[str, int]) -> tuple[list[str], dict]:
    errors: list[str] = []
    order = orders.get(row.order_no)
    if not row.order_no:
        errors.append(_("The order number is empty."))
    elif order is None:
        errors.append(_("No order %(order_no)s.") % {"order_no": row.order_no})
    elif row.order_no in seen:
        errors.append(
            _("Order %(order_no)s is on row %(row)d already.") % {"order_no": row.order_no, "row": seen[row.order_no]}
        )
    elif order.status != OrderStatus.PAID:
        errors.append(
            _("Order %(order_no)s is %(status)s: only paid orders not yet shipped can be shipped.")
            % {"order_no": row.order_no, "status": order.get_status_display()}
        )
    carrier = carrier_from_text(row.carrier)
    if carrier is None:
        errors.append(
            _("Unknown carrier “%(carrier)s”: use one of %(known)s.")
            % {"carrier": row.carrier, "known": "、".join(Carrier.labels)}
        )
    tracking_number = tracking_number_normalize(row.tracking_number)
    if not tracking_number:
        errors.append(_("The tracking number is empty."))
    elif carrier is not None and not tracking_number_fits(carrier=carrier, tracking_number=tracking_number):
        errors.append(
            _("“%(number)s” is not a %(carrier)s tracking number.")
            % {"number": tracking_number, "carrier": Carrier(carrier).label}
        )
    return errors, {"order": order, "carrier": carrier, "tracking_number": tracking_number}


def shipment_rows_check(*, rows: Sequence[ShipmentRow]) -> list[CheckedShipment]:
    """Every row checked (order exists, paid and not shipped, once; carrier known; tracking number format).

    Raises ShipmentSheetInvalid with each bad row's problems. Two queries whatever the number of rows.
    """
    if not rows:
        raise ShipmentSheetInvalid(row_errors={1: [_("The sheet has no rows below its header.")]})
    if len(rows) > MAX_SHEET_ROWS:
        raise ShipmentSheetInvalid(
            row_errors={1: [_("At most %(count)d rows a sheet: split it.") % {"count": MAX_SHEET_ROWS}]}
        )
    orders = Order.objects.in_bulk([row.order_no for row in rows if row.order_no], field_name="order_no")
    row_errors: dict[int, list[str]] = {}
    checked: list[CheckedShipment] = []
    seen: dict[str, int] = {}
    for row in rows:
        errors, values = _row_check(row, orders, seen)
        if row.order_no and row.order_no not in seen:
            seen[row.order_no] = row.number
        if errors:
            row_errors[row.number] = errors
        else:
            checked.append(CheckedShipment(row_number=row.number, **values))
    if row_errors:
        raise ShipmentSheetInvalid(row_errors=row_errors)
    return checked


@transaction.atomic
def orders_ship_from_sheet(*, rows: Sequence[ShipmentRow], staff_user: AbstractBaseUser) -> list[Order]:
    """Ship every row's order, or none: ShipmentSheetInvalid lists the rows that stop the sheet."""
    shipped = []
    for shipment in shipment_rows_check(rows=rows):
        try:
            # Parcels recorded and reported to WeChat on commit, as when shipping one order.
            order_parcels_ship(
                order=shipment.order,
                parcels=[ParcelInput(carrier=shipment.carrier, tracking_number=shipment.tracking_number)],
                staff_user=staff_user,
            )
            shipment.order.refresh_from_db()
            shipped.append(shipment.order)
        except ApplicationError as refusal:  # changed since the check (shipped by someone else meanwhile)
            raise ShipmentSheetInvalid(row_errors={shipment.row_number: [refusal.message]}) from refusal
    return shipped
