"""WeChat Pay v2 trade bills (pay/downloadbill), read as a stream of typed rows.

Format, from 微信支付 V2 开发文档 (JSAPI支付), 下载交易账单 / 返回结果:
- a header row, then data rows whose every field starts with a backtick (`), then a summary
  header (总交易单数, ...) and one summary row, its fields backticked too;
- amounts in yuan with two decimals (手续费 with five);
- columns are found by header name: older bills have 24 columns (总金额, 代金券或立减优惠金额,
  ...; summary 总交易单数,总交易额,总退款金额,...), newer ones 27 (应结订单金额, 代金券金额, ...,
  订单金额, 申请退款金额, 费率备注; summary ...,订单总金额,申请退款总金额).

The reader holds one row at a time, so a bill of a million rows reads in flat memory.
"""

import csv
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import NamedTuple

from wechat.errors import WeChatPermanentError

# Our name -> the header names that hold it, newest layout first.
ROW_COLUMNS = {
    "traded_at": ("交易时间",),
    "transaction_id": ("微信订单号",),
    "out_trade_no": ("商户订单号",),
    "trade_state": ("交易状态",),
    # What the order cost (its total_fee): 订单金额 in 27 columns, 总金额 in 24.
    "order_yuan": ("订单金额", "总金额"),
    # What the merchant is settled (the order less non-refillable coupons).
    "settlement_yuan": ("应结订单金额", "总金额"),
    "refund_id": ("微信退款单号",),
    "out_refund_no": ("商户退款单号",),
    # The refund asked for (our refund_fee): 申请退款金额 in 27 columns, 退款金额 in 24.
    "refund_requested_yuan": ("申请退款金额", "退款金额"),
    "refund_yuan": ("退款金额",),
    "refund_status": ("退款状态",),
}
SUMMARY_HEADER_FIRST = "总交易单数"
# Summary figure (the sum of the row column of the same name) -> its header names; 24-column bills
# have no order or refund_requested total.
SUMMARY_FIGURES = {
    "settlement": ("应结订单总金额", "总交易额"),
    "refund": ("退款总金额", "总退款金额"),
    "order": ("订单总金额",),
    "refund_requested": ("申请退款总金额",),
}
REFUND_STATE = "REFUND"


@dataclass(frozen=True)
class BillLayout:
    """Where a trade bill keeps what we read: header names per figure, as one API version documents them.

    `row_columns` names what BillRow is built from, in ROW_COLUMNS' order -> their header names,
    newest layout first;
    `summary_figures` the summary's figures -> their header names (absent from some layouts).
    """

    name: str
    row_columns: Mapping[str, tuple[str, ...]]
    summary_figures: Mapping[str, tuple[str, ...]]
    summary_header_first: str = SUMMARY_HEADER_FIRST


# pay/downloadbill's bill (微信支付 V2 开发文档, 下载交易账单).
V2_TRADE_BILL = BillLayout(name="v2 pay/downloadbill", row_columns=ROW_COLUMNS, summary_figures=SUMMARY_FIGURES)
# Amounts repeat (prices do): remember this many conversions, then start over, so memory stays bounded.
AMOUNT_CACHE_SIZE = 20_000


class BillFormatError(WeChatPermanentError):
    """The bill is not in WeChat's format (or was cut short): reading it again will not help."""


class BillRow(NamedTuple):
    """One data row; amounts in fen."""

    line_number: int
    traded_at: str  # yyyy-MM-dd HH:mm:ss, Beijing time
    transaction_id: str
    out_trade_no: str
    trade_state: str  # SUCCESS, REFUND, REVOKED
    order_fen: int
    settlement_fen: int
    refund_id: str
    out_refund_no: str
    refund_requested_fen: int
    refund_fen: int
    refund_status: str  # SUCCESS, PROCESSING, REFUNDCLOSE, CHANGE on refund rows


@dataclass
class BillTotals:
    """The bill's summary row beside what its rows add up to; a figure the summary lacks is None there."""

    columns: int = 0
    trade_count: int | None = None
    row_count: int = 0
    summary_fen: dict[str, int | None] = field(default_factory=dict)
    rows_fen: dict[str, int] = field(default_factory=dict)

    def mismatches(self) -> list[tuple[str, int, int]]:
        """(figure, WeChat's summary, the rows' count or sum) for each figure that disagrees."""
        found = []
        if self.trade_count != self.row_count:
            found.append(("trade_count", self.trade_count, self.row_count))
        for figure, summary in self.summary_fen.items():
            if summary is not None and summary != self.rows_fen.get(figure, 0):
                found.append((figure, summary, self.rows_fen[figure]))
        return found


def yuan_to_fen(text: str) -> int:
    """An amount in yuan ("39.90") as integer fen, exactly; refuses anything finer than a fen."""
    try:
        fen = Decimal(text).scaleb(2)
    except InvalidOperation:
        raise BillFormatError(f"{text!r} is not an amount in yuan") from None
    if not fen.is_finite() or fen != fen.to_integral_value():
        raise BillFormatError(f"{text!r} is not a whole number of fen")
    return int(fen)


class BillReader:
    """Iterate for the data rows; once they are read, `totals` holds the summary and the rows' sums.

    `lines` may keep their line ends; `layout` names the columns (v2's bill unless told). Raises
    BillFormatError for a missing column, a row of the wrong width, an amount that is not yuan, or a
    bill that ends before its summary row (a download cut short must not pass as a shorter day).
    """

    def __init__(self, lines: Iterable[str], layout: BillLayout = V2_TRADE_BILL):
        self.lines = lines
        self.layout = layout
        self.totals = BillTotals()

    def __iter__(self) -> Iterator[BillRow]:
        lines = iter(self.lines)
        header = _csv_fields(next(lines, "").lstrip("\ufeff"))
        if not any(header):
            raise BillFormatError("the bill is empty")
        row_columns = self.layout.row_columns
        if tuple(row_columns) != tuple(ROW_COLUMNS):  # BillRow's fields are built in this order
            raise ValueError(f"{self.layout.name}: row_columns must name {tuple(ROW_COLUMNS)} in order")
        summary_header_first = self.layout.summary_header_first
        positions = _positions(header, row_columns)
        self.totals.columns = width = len(header)
        # The row's fields in BillRow's order, picked in one C call: this loop runs a million times.
        pick = itemgetter(*(positions[name] for name in row_columns))
        cache: dict[str, int] = {}
        known = cache.get

        def fen(text: str) -> int:
            if len(cache) >= AMOUNT_CACHE_SIZE:
                cache.clear()
            amount = cache[text] = yuan_to_fen(text)
            return amount

        order_sum = settlement_sum = refund_requested_sum = refund_sum = 0
        row_count = 0
        line_number = 1
        for line in lines:
            line_number += 1
            line = line.rstrip("\r\n")
            if not line:
                continue
            if not line.startswith("`"):
                if line.startswith(summary_header_first):
                    self.totals.row_count = row_count
                    self.totals.rows_fen = {
                        "settlement": settlement_sum,
                        "refund": refund_sum,
                        "order": order_sum,
                        "refund_requested": refund_requested_sum,
                    }
                    self._summary_read(_csv_fields(line), lines, line_number)
                    return
                raise BillFormatError(f"line {line_number} is neither a backticked row nor the summary header")
            # Every field starts with a backtick, so ",`" is what separates them; a line it splits
            # wrongly (a backtick-less field) is read again as CSV before it is refused.
            values = line[1:].split(",`")
            if len(values) != width:
                values = [value.removeprefix("`") for value in _csv_fields(line)]
                if len(values) != width:
                    raise BillFormatError(f"line {line_number} has {len(values)} fields; the header has {width}")
            (traded_at, transaction_id, out_trade_no, trade_state, order, settlement, refund_id, out_refund_no,
             refund_requested, refund, refund_status) = pick(values)  # fmt: skip
            order_fen = known(order)
            if order_fen is None:
                order_fen = fen(order)
            settlement_fen = known(settlement)
            if settlement_fen is None:
                settlement_fen = fen(settlement)
            refund_requested_fen = known(refund_requested)
            if refund_requested_fen is None:
                refund_requested_fen = fen(refund_requested)
            refund_fen = known(refund)
            if refund_fen is None:
                refund_fen = fen(refund)
            order_sum += order_fen
            settlement_sum += settlement_fen
            refund_requested_sum += refund_requested_fen
            refund_sum += refund_fen
            row_count += 1
            yield BillRow(
                line_number,
                traded_at,
                transaction_id,
                out_trade_no,
                trade_state,
                order_fen,
                settlement_fen,
                refund_id,
                out_refund_no,
                refund_requested_fen,
                refund_fen,
                refund_status,
            )
        raise BillFormatError("the bill ends without its summary row: the download was cut short")

    def _summary_read(self, header: list[str], lines: Iterator[str], line_number: int) -> None:
        line = next(lines, "").rstrip("\r\n")
        if not line:
            raise BillFormatError("the bill ends after its summary header: the download was cut short")
        values = [value.removeprefix("`") for value in _csv_fields(line)]
        if len(values) != len(header):
            raise BillFormatError(f"summary row after line {line_number} has {len(values)} fields, not {len(header)}")
        summary = dict(zip(header, values, strict=True))
        first = self.layout.summary_header_first
        try:
            self.totals.trade_count = int(summary[first])
        except ValueError:
            raise BillFormatError(f"{first} {summary[first]!r} is not a count") from None
        for figure, names in self.layout.summary_figures.items():
            name = next((name for name in names if name in summary), None)
            self.totals.summary_fen[figure] = yuan_to_fen(summary[name]) if name else None
        if self.totals.summary_fen["settlement"] is None or self.totals.summary_fen["refund"] is None:
            raise BillFormatError(f"the summary lacks the settled or refunded total: {', '.join(header)}")
        if any(line.strip() for line in lines):
            raise BillFormatError("the bill goes on after its summary row")


def _csv_fields(line: str) -> list[str]:
    return next(csv.reader([line.rstrip("\r\n")]), [])


def _positions(header: list[str], columns: dict[str, tuple[str, ...]]) -> dict[str, int]:
    index = {name: position for position, name in enumerate(header)}
    positions = {}
    for ours, names in columns.items():
        position = next((index[name] for name in names if name in index), None)
        if position is None:
            raise BillFormatError(f"the header has no column {' or '.join(names)}")
        positions[ours] = position
    return positions
