"""WeChat Pay v2 bills: pay/downloadbill, built from the sandbox's own orders and refunds of a Beijing date.

Rules, from 微信支付 V2 开发文档 (JSAPI/小程序支付), 下载交易账单:
- bill_date yyyyMMdd, bill_type ALL (default) | SUCCESS | REFUND, tar_type GZIP optional.
- The bill is a text table: a header row, data rows whose every field starts with a backtick,
  then a summary header and a summary row; amounts in yuan (the 27-column layout of
  WeChat Pay v2 下载交易账单, CRLF line ends). Paid orders are SUCCESS rows on the day
  they were paid; refunds are REFUND rows on the day they were made.
- WeChat starts a day's bill at 9:00 the next day and advises fetching it after 10:00; bills
  are kept for three months. Failures are return_code FAIL with return_msg: "No Bill Exist"
  (nothing that day, error_code 20002), "Bill Creating" (not ready yet), "invalid bill_date",
  "invalid bill_type", "invalid tar_type".
The control API tampers with, adds or leaves out rows of a date's bill, for reconciliation tests.
"""

from __future__ import annotations

import gzip
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, ControlNotFound
from wechat_sandbox.merchants import Merchants, SandboxMerchant
from wechat_sandbox.pay_orders import BEIJING, PAID_STATES, PayOrder, PayOrders, random_digits
from wechat_sandbox.pay_refunds import PayRefund, PayRefunds
from wechat_sandbox.pay_signing import PayFail, PayRequest, pay_endpoint
from wechat_sandbox.protocols import PAY_XML, json_response
from wechat_sandbox.routes import Route, path_argument
from wechat_sandbox.state import snapshot_part

if TYPE_CHECKING:
    from wechat_sandbox.state import Sandbox

HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
).split(",")
SUMMARY_HEADER = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
AMOUNT_COLUMNS = ("应结订单金额", "代金券金额", "退款金额", "充值券退款金额", "手续费", "订单金额", "申请退款金额")
BILL_TYPES = ("ALL", "SUCCESS", "REFUND")
FEE_RATE = Decimal("0.006")  # the rate the sandbox charges, shown as 费率 "0.60%"
READY_AT = time(10, 0)  # 下载交易账单: 次日9点启动生成前一天的对账单，建议商户10点后再获取
KEPT_MONTHS = 3
NO_BILL_ERROR_CODE = "20002"
BILL_DATE_SHAPE = re.compile(r"[0-9]{8}")


def yuan(fen: int) -> str:
    return f"{Decimal(fen) / 100:.2f}"


def fee_of(fen: int) -> str:
    """手续费: the rate on the amount, rounded half up to the fen, written with five decimals as WeChat's bills are."""
    fee = (Decimal(fen) * FEE_RATE).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return f"{fee / 100:.5f}"


def _stamp(at: float) -> str:
    return datetime.fromtimestamp(at, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def _day(at: float) -> date:
    return datetime.fromtimestamp(at, BEIJING).date()


def payment_row(order: PayOrder) -> dict[str, str]:
    return dict(
        zip(
            HEADER,
            [
                _stamp(order.time_end or 0),
                order.appid,
                order.mch_id,
                "0",
                "",
                order.transaction_id,
                order.out_trade_no,
                order.openid,
                order.trade_type,
                "SUCCESS",
                order.bank_type,
                "CNY",
                yuan(order.total_fee),
                "0.00",
                "0",
                "0",
                "0.00",
                "0.00",
                "",
                "",
                order.body,
                order.attach,
                fee_of(order.total_fee),
                "0.60%",
                yuan(order.total_fee),
                "0.00",
                "",
            ],
            strict=True,
        )
    )


def refund_row(order: PayOrder, refund: PayRefund) -> dict[str, str]:
    return {
        **payment_row(order),
        "交易时间": _stamp(refund.created_at),
        "交易状态": "REFUND",
        "应结订单金额": "0.00",
        "微信退款单号": refund.refund_id,
        "商户退款单号": refund.out_refund_no,
        "退款金额": yuan(refund.refund_fee),
        "退款类型": "ORIGINAL",
        "退款状态": "SUCCESS",  # a bill is ready the next morning, long after the refund went through
        "手续费": fee_of(-refund.refund_fee),
        "订单金额": "0.00",
        "申请退款金额": yuan(refund.refund_fee),
    }


@dataclass
class BillChange:
    """A control API change to one date's bill: a tampered or left-out row (matched by its order and refund
    numbers), or an extra one."""

    mch_id: str
    appid: str
    bill_date: str
    kind: str  # "tamper" | "omit" | "extra"
    fields: dict[str, str]
    out_trade_no: str = ""
    out_refund_no: str = ""


@snapshot_part("pay_bills")
class PayBills:
    """The control API's changes to bills (bills are built from orders and refunds); use under the lock."""

    def __init__(self) -> None:
        self.changes: list[BillChange] = []

    def forget_app(self, appid: str) -> None:
        self.changes = [change for change in self.changes if change.appid != appid]

    def to_snapshot(self) -> dict:
        return {"changes": [asdict(change) for change in self.changes]}

    @classmethod
    def from_snapshot(cls, data: dict) -> PayBills:
        part = cls()
        part.changes = [BillChange(**entry) for entry in data["changes"]]
        return part


def bill_rows(sandbox: Sandbox, mch_id: str, day: date, bill_type: str = "ALL") -> list[dict[str, str]]:
    """The day's rows for one merchant, oldest first, with the control API's changes; call under the lock."""
    orders = sandbox.part(PayOrders).orders.values()
    mine = {order.out_trade_no: order for order in orders if order.mch_id == mch_id}
    rows: list[tuple[str, dict[str, str]]] = []
    if bill_type in ("ALL", "SUCCESS"):
        for order in mine.values():
            if order.state in PAID_STATES and order.time_end is not None and _day(order.time_end) == day:
                rows.append(("", payment_row(order)))
    if bill_type in ("ALL", "REFUND"):
        for refund in sandbox.part(PayRefunds).refunds.values():
            order = mine.get(refund.out_trade_no)
            if refund.mch_id == mch_id and order is not None and _day(refund.created_at) == day:
                rows.append((refund.out_refund_no, refund_row(order, refund)))
    bill_date = day.strftime("%Y%m%d")
    for change in sandbox.part(PayBills).changes:
        if change.mch_id != mch_id or change.bill_date != bill_date:
            continue
        if change.kind == "extra":
            if bill_type == "ALL" or (bill_type == "SUCCESS") == (change.fields.get("交易状态") != "REFUND"):
                rows.append(("", change.fields))
            continue
        matching = [
            (refund_no, row)
            for refund_no, row in rows
            if row["商户订单号"] == change.out_trade_no and refund_no == change.out_refund_no
        ]
        for entry in matching:
            if change.kind == "omit":
                rows.remove(entry)
            else:
                entry[1].update(change.fields)
    rows.sort(key=lambda entry: entry[1]["交易时间"])
    return [row for _, row in rows]


def bill_csv(rows: list[dict[str, str]]) -> str:
    """The bill as WeChat writes it: header, backtick-prefixed rows, summary header and row; CRLF."""
    totals = {name: sum((Decimal(row[name]) for row in rows), Decimal(0)) for name in AMOUNT_COLUMNS}
    summary = [
        str(len(rows)),
        f"{totals['应结订单金额']:.2f}",
        f"{totals['退款金额']:.2f}",
        f"{totals['充值券退款金额']:.2f}",
        f"{totals['手续费']:.5f}",
        f"{totals['订单金额']:.2f}",
        f"{totals['申请退款金额']:.2f}",
    ]
    lines = [",".join(HEADER)]
    lines += [",".join("`" + row[name] for name in HEADER) for row in rows]
    lines += [SUMMARY_HEADER, ",".join("`" + value for value in summary)]
    return "\r\n".join(lines) + "\r\n"


def _months_before(day: date, months: int) -> date:
    month_index = day.year * 12 + day.month - 1 - months
    year, month = divmod(month_index, 12)
    for last_day in (day.day, 30, 29, 28):  # the same day of the month, or that month's last
        try:
            return date(year, month + 1, last_day)
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


def parse_bill_date(text: str) -> date | None:
    if not BILL_DATE_SHAPE.fullmatch(text):
        return None
    try:
        return datetime.strptime(text, "%Y%m%d").date()
    except ValueError:
        return None


@pay_endpoint
def download_bill(sandbox: Sandbox, request: PayRequest) -> Response:
    """POST XML: 下载交易账单 → the day's bill as CSV (gzipped with tar_type=GZIP), or return_code FAIL."""
    params = request.params
    if not params.get("bill_date"):
        raise PayFail("missing parameter")
    day = parse_bill_date(params["bill_date"])
    now = datetime.fromtimestamp(sandbox.now(), BEIJING)
    bill_type = params.get("bill_type") or "ALL"
    if bill_type not in BILL_TYPES:
        raise PayFail("invalid bill_type")
    if params.get("tar_type") not in (None, "", "GZIP"):
        raise PayFail("invalid tar_type")
    if day is None or day >= now.date() or day < _months_before(now.date(), KEPT_MONTHS):
        raise PayFail("invalid bill_date")
    if now < datetime.combine(day + timedelta(days=1), READY_AT, BEIJING):
        raise PayFail("Bill Creating")
    with sandbox.lock:
        rows = bill_rows(sandbox, request.merchant.mch_id, day, bill_type)
    if not rows:
        raise PayFail("No Bill Exist", error_code=NO_BILL_ERROR_CODE)
    text = bill_csv(rows)
    if params.get("tar_type") == "GZIP":
        return Response(gzip.compress(text.encode()), content_type="application/octet-stream")
    return Response(text, content_type="text/plain; charset=utf-8")


def change_bill(sandbox: Sandbox, request: Request) -> Response:
    """POST {fields: {column: value}, out_trade_no?, out_refund_no?, extra?, omit?, mch_id?}: change, add or drop a row.

    By default the row of `out_trade_no` (its refund row with `out_refund_no`) in that date's
    bill gets `fields` (column names as in the bill's header); with `omit: true` that row is
    left out of the bill (`fields` not needed); with `extra: true` a row no order matches is
    added, `fields` over a SUCCESS row's defaults. The summary row is computed from the rows as
    changed. Changes stay until DELETE or reset.
    """
    bill_date = path_argument(request, "bill_date")
    day = parse_bill_date(bill_date)
    if day is None:
        raise BadControlInput("the bill date must be yyyyMMdd")
    body = ControlInput(request, allowed={"fields", "out_trade_no", "out_refund_no", "extra", "omit", "mch_id"})
    omit = body.boolean("omit")
    fields = body.raw("fields", required=not omit)
    fields = {} if fields is None else fields
    if not isinstance(fields, dict) or not all(isinstance(value, str) for value in fields.values()):
        raise BadControlInput("fields must be an object of strings, keyed by the bill's column names")
    unknown = sorted(set(fields) - set(HEADER))
    if unknown:
        raise BadControlInput(f"unknown column(s) {', '.join(unknown)}; columns: {', '.join(HEADER)}")
    for name in AMOUNT_COLUMNS:
        if name in fields and not re.fullmatch(r"-?[0-9]+\.[0-9]{2,5}", fields[name]):
            raise BadControlInput(f"{name} must be an amount in yuan such as 39.90")
    with sandbox.lock:
        merchant = _control_merchant(sandbox, body.text("mch_id"))
        if body.boolean("extra") and omit:
            raise BadControlInput("a row is either extra or omitted, not both")
        if body.boolean("extra"):
            amount = fields.get("应结订单金额", "0.01")
            defaults = {
                **dict.fromkeys(HEADER, ""),
                "交易时间": f"{day.isoformat()} 12:00:00",
                "公众账号ID": merchant.appid,
                "商户号": merchant.mch_id,
                "特约商户号": "0",
                "微信订单号": "420000" + bill_date + random_digits(14),
                "商户订单号": "EXTRA" + secrets.token_hex(6).upper(),
                "交易类型": "JSAPI",
                "交易状态": "SUCCESS",
                "付款银行": "OTHERS",
                "货币种类": "CNY",
                "应结订单金额": amount,
                "代金券金额": "0.00",
                "微信退款单号": "0",
                "商户退款单号": "0",
                "退款金额": "0.00",
                "充值券退款金额": "0.00",
                "手续费": fee_of(int(Decimal(amount) * 100)),
                "费率": "0.60%",
                "订单金额": amount,
                "申请退款金额": "0.00",
            }
            change = BillChange(merchant.mch_id, merchant.appid, bill_date, "extra", {**defaults, **fields})
        else:
            out_trade_no = body.text("out_trade_no", required=True, max_length=32)
            out_refund_no = body.text("out_refund_no", max_length=64) or ""
            change = BillChange(
                merchant.mch_id,
                merchant.appid,
                bill_date,
                "omit" if omit else "tamper",
                fields,
                out_trade_no,
                out_refund_no,
            )
            rows = bill_rows(sandbox, merchant.mch_id, day)
            if not any(
                row["商户订单号"] == out_trade_no and (row["商户退款单号"] not in ("0", "")) == bool(out_refund_no)
                for row in rows
            ):
                raise ControlNotFound(f"no row of order {out_trade_no!r} in the {bill_date} bill")
        sandbox.part(PayBills).changes.append(change)
    return json_response(asdict(change), 201)


def clear_bill_changes(sandbox: Sandbox, request: Request) -> Response:
    """DELETE: forget the control API's changes to that date's bill."""
    bill_date = path_argument(request, "bill_date")
    with sandbox.lock:
        bills = sandbox.part(PayBills)
        before = len(bills.changes)
        bills.changes = [change for change in bills.changes if change.bill_date != bill_date]
        removed = before - len(bills.changes)
    return json_response({"bill_date": bill_date, "removed": removed})


def _control_merchant(sandbox: Sandbox, mch_id: str | None) -> SandboxMerchant:
    merchants = sandbox.part(Merchants).by_id
    if mch_id is None:
        if len(merchants) != 1:
            raise BadControlInput("give mch_id: the bill is a merchant's")
        return next(iter(merchants.values()))
    if mch_id not in merchants:
        raise ControlNotFound(f"no merchant {mch_id!r} is registered")
    return merchants[mch_id]


ROUTES = (
    Route("/pay/downloadbill", ("POST",), download_bill, protocol=PAY_XML, max_body_bytes=64 * 1024),
    Route("/sandbox/pay/bills/<bill_date>/rows", ("POST",), change_bill),
    Route("/sandbox/pay/bills/<bill_date>/rows", ("DELETE",), clear_bill_changes),
)
