"""Reading a shipping sheet staff upload: CSV or XLSX, columns found by their header (English or Chinese).

Only reading: the rows are checked and shipped by orders.services.shipping.
"""

import csv
import io
import zipfile

from django.utils.translation import gettext as _
from openpyxl import load_workbook

from orders.exceptions import ShipmentSheetUnreadable
from orders.services.shipping import MAX_SHEET_ROWS, ShipmentRow

# A sheet of MAX_SHEET_ROWS rows is well under this; a bigger upload is not a shipping sheet.
MAX_SHEET_BYTES = 2 * 1024 * 1024

# Header (lower case, spaces removed) -> column. What our export writes, and what couriers' tools name them.
HEADERS = {
    "order_no": {"order_no", "ordernumber", "order", "订单号", "订单编号"},
    "carrier": {"carrier", "快递公司", "物流公司", "快递"},
    "tracking_number": {"tracking_number", "trackingnumber", "tracking", "运单号", "快递单号", "物流单号"},
}
# The names the sheet's first row must give, as our template and export write them.
COLUMN_NAMES = {"order_no": "订单号", "carrier": "快递公司", "tracking_number": "运单号"}


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number Excel stored as a float: 1.2e13 is a tracking number, not a fraction
    return str(value).strip().lstrip("\ufeff")


def _csv_rows(content: bytes) -> list[list[str]]:
    # Excel saves CSV in the system's code page: GB18030 on Chinese Windows, UTF-8 (with BOM) elsewhere.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ShipmentSheetUnreadable(_("The CSV file is neither UTF-8 nor GB18030 text."))
    return [row for row in csv.reader(io.StringIO(text, newline=""))]


def _xlsx_rows(content: bytes) -> list[list[str]]:
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise ShipmentSheetUnreadable(_("The file is not an Excel workbook (.xlsx).")) from error
    try:
        sheet = workbook.worksheets[0]
        rows = []
        for values in sheet.iter_rows(values_only=True, max_row=MAX_SHEET_ROWS + 2):
            rows.append([_cell_text(value) for value in values])
        return rows
    finally:
        workbook.close()


def shipment_sheet_read(*, name: str, content: bytes) -> list[ShipmentRow]:
    """The sheet's data rows (blank rows skipped), numbered as the sheet numbers them; refuses what it cannot read."""
    if len(content) > MAX_SHEET_BYTES:
        raise ShipmentSheetUnreadable(_("The file is over 2 MB: split the sheet."))
    lowered = name.lower()
    if lowered.endswith(".xlsx"):
        table = _xlsx_rows(content)
    elif lowered.endswith(".csv"):
        table = _csv_rows(content)
    else:
        raise ShipmentSheetUnreadable(_("Upload a .csv or .xlsx file."))
    if not table:
        raise ShipmentSheetUnreadable(_("The sheet is empty."))
    header = ["".join(_cell_text(cell).split()).lower() for cell in table[0]]
    columns = {}
    for column, names in HEADERS.items():
        found = [index for index, cell in enumerate(header) if cell in names]
        if not found:
            raise ShipmentSheetUnreadable(
                _(
                    "The first row must name the columns 订单号 (order number), 快递公司 (carrier) and 运单号 "
                    "(tracking number); “%(column)s” is missing."
                )
                % {"column": COLUMN_NAMES[column]}
            )
        columns[column] = found[0]
    rows = []
    for number, cells in enumerate(table[1:], start=2):
        values = {column: _cell_text(cells[index]) if index < len(cells) else "" for column, index in columns.items()}
        if not any(values.values()):
            continue
        rows.append(ShipmentRow(number=number, **values))
    return rows
