"""Reconciling a day's WeChat Pay bill against our payments in PostgreSQL, beside csv.reader reading the same file.

    DATABASE_URL=postgres://user@host:5432/name .venv/bin/python bench/reconcile.py [--rows 1000000] [--quick]
        [--rounds 3] [--record --note "..."]

Creates its own database (<name>_reconcile_bench, dropped at the end), writes a bill of `rows`
payments in WeChat's format (27 columns, backticked fields, CRLF, the summary header and row;
the layout of tests/fixtures/wechat/bill-sample.csv) to a temporary file, with a refund row for
every 50th payment, and loads the matching orders, paid payments and succeeded refunds with COPY.
1 % of the payments carry a discrepancy, five kinds in turn (payment i with i % 500 equal to):
  7 the bill's amount is 1 fen more than ours (amount mismatch),
  107 the bill has a payment we do not (missing locally),
  207 we have a paid payment the bill lacks (missing at WeChat),
  325 the bill has a refund we do not (refund missing locally),
  425 our refund is 1 fen less than the bill's (refund amount mismatch).
Then, each in a fresh Python process so that neither counts the other's memory, alternating
over --rounds rounds (the order rotated each round):
- baseline: csv.reader reads the file, row by row, and does nothing with the rows;
- reconcile: the product's reconciliation_run_from_lines() fed the file's lines (the download
  left out: it is the one seam), which parses, streams the rows into PostgreSQL, compares them
  with the payments and refunds of the day in SQL, checks the summary, and records the run.
It prints medians (min–max) of seconds, rows/s and peak memory (the process's peak resident set,
VmHWM: Python, Django, psycopg and their buffers, everything), the ratio of the times (aim: within
5x), and the discrepancies found by kind against those planted: every round must find exactly them.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import PlainTable, Spread, benchmarks_md_record, interleaved, machine_description, ratio_spread
from bench.side_database import side_database

BILL_DATE = date(2026, 11, 22)
COLUMNS = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
    "手续费,费率,订单金额,申请退款金额,费率备注"
)
SUMMARY_HEADER = "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
APPID, MCH_ID, OPENID = "wx2421b1c4370ec43b", "10000100", "oUpF8uMEb4qRXf22hE3X68TekukE"
COPY_PROGRESS_EVERY = 200_000
REFUND_EVERY = 50  # payment i has a refund when i % REFUND_EVERY == REFUND_AT
REFUND_AT = 25
# Payment i carries a discrepancy when i % 500 is one of these: 5 in 500, 1 %.
AMOUNT_MISMATCH, MISSING_LOCALLY, MISSING_AT_WECHAT, REFUND_MISSING_LOCALLY, REFUND_AMOUNT_MISMATCH = (
    7,
    107,
    207,
    325,
    425,
)
PLANTED_KINDS = {
    AMOUNT_MISMATCH: "amount_mismatch",
    MISSING_LOCALLY: "missing_locally",
    MISSING_AT_WECHAT: "missing_at_wechat",
    REFUND_MISSING_LOCALLY: "missing_locally",
    REFUND_AMOUNT_MISMATCH: "amount_mismatch",
}
QUICK_ROWS = 5_000


def _peak_rss_bytes() -> int:
    """This process's peak resident set (VmHWM), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


# --- the two measured sides, each run as `bench/reconcile.py --side NAME --bill FILE` in a fresh process --------


def _side_baseline(bill: Path) -> dict:
    import csv

    started = time.perf_counter()
    rows = 0
    with bill.open(newline="", encoding="utf-8") as lines:
        for _ in csv.reader(lines):
            rows += 1
    return {"seconds": time.perf_counter() - started, "rows": rows, "peak_rss": _peak_rss_bytes()}


def _side_reconcile(bill: Path) -> dict:
    import django

    django.setup()
    from django.conf import settings

    # As in production: DEBUG would keep every query in memory.
    settings.DEBUG = False
    from django.db.models import Count

    from orders.models import Discrepancy, ReconciliationTrigger
    from orders.services.reconciliation import reconciliation_run_from_lines

    started = time.perf_counter()
    with bill.open(encoding="utf-8", newline="") as lines:
        run = reconciliation_run_from_lines(
            bill_date=BILL_DATE, lines=lines, triggered_by=ReconciliationTrigger.COMMAND
        )
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "rows": run.payment_rows + run.refund_rows,
        "peak_rss": _peak_rss_bytes(),
        "status": run.status,
        "error": run.error_message,
        "matched": run.matched_count,
        "discrepancies": run.discrepancy_count,
        "by_kind": dict(
            Discrepancy.objects.filter(last_seen_run=run)
            .values_list("kind")
            .annotate(count=Count("id"))
            .values_list("kind", "count")
        ),
        "summary_agrees": run.summary_settlement_fen == run.rows_settlement_fen
        and run.summary_trade_count == run.payment_rows + run.refund_rows,
    }


# --- setting up: the bill file and the matching orders and payments ---------------------------------------------


def _trades(rows: int):
    """(number, out_trade_no, transaction_id, amount in fen, paid at) for each payment, in time order."""
    amounts = random.Random(42)
    day_start = datetime(BILL_DATE.year, BILL_DATE.month, BILL_DATE.day, tzinfo=_beijing())
    step = 86_400 / rows
    for number in range(rows):
        yield (
            number,
            f"B{BILL_DATE:%Y%m%d}{number:015d}",
            f"4200002026{BILL_DATE:%m%d}{number:014d}",
            amounts.randint(2, 200_000),
            day_start + timedelta(seconds=int(number * step)),
        )


def _refund(number: int, fen: int, paid_at: datetime) -> tuple[str, str, int, datetime] | None:
    """(out_refund_no, refund_id, amount in fen, requested at) if payment `number` has a refund: half of it."""
    if number % REFUND_EVERY != REFUND_AT:
        return None
    return (
        f"R{BILL_DATE:%Y%m%d}{number:015d}",
        f"5000202611{BILL_DATE:%d}{number:013d}",
        fen // 2,
        paid_at + timedelta(seconds=1),
    )


def _planted(number: int) -> int | None:
    return number % 500 if number % 500 in PLANTED_KINDS else None


def planted_discrepancies(rows: int) -> dict[str, int]:
    """The discrepancies the bill and our rows are built with, by kind: what every run must find."""
    found: dict[str, int] = {}
    for number in range(rows):
        if (planted := _planted(number)) is not None:
            found[PLANTED_KINDS[planted]] = found.get(PLANTED_KINDS[planted], 0) + 1
    return found


def _beijing():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _fee(fen: int) -> str:
    """WeChat's fee column: yuan to five places."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}000"


def _bill_write(path: Path, rows: int) -> int:
    """The bill as WeChat writes it; amounts summed in fen, fees rounded half up at 0.60% as the sandbox does.

    Returns the bill's rows (payments and refunds).
    """
    settled = refunded = fees = written = 0
    with path.open("w", encoding="utf-8", newline="") as bill:
        bill.write(COLUMNS + "\r\n")
        for number, out_trade_no, transaction_id, fen, paid_at in _trades(rows):
            planted = _planted(number)
            if planted == MISSING_AT_WECHAT:
                continue
            if planted == AMOUNT_MISMATCH:
                fen += 1
            fee = (fen * 6 + 500) // 1000
            settled += fen
            fees += fee
            written += 1
            amount = _yuan(fen)
            bill.write(
                f"`{paid_at:%Y-%m-%d %H:%M:%S},`{APPID},`{MCH_ID},`0,`,`{transaction_id},`{out_trade_no},`{OPENID},"
                f"`JSAPI,`SUCCESS,`OTHERS,`CNY,`{amount},`0.00,`0,`0,`0.00,`0.00,`,`,`Ceramic mug x1,`,"
                f"`{_fee(fee)},`0.60%,`{amount},`0.00,`\r\n"
            )
            if refund := _refund(number, fen, paid_at):
                out_refund_no, refund_id, refund_fen, requested_at = refund
                refund_fee = -((refund_fen * 6 + 500) // 1000)
                refunded += refund_fen
                fees += refund_fee
                written += 1
                bill.write(
                    f"`{requested_at:%Y-%m-%d %H:%M:%S},`{APPID},`{MCH_ID},`0,`,`{transaction_id},`{out_trade_no},"
                    f"`{OPENID},`JSAPI,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`{refund_id},`{out_refund_no},"
                    f"`{_yuan(refund_fen)},`0.00,`ORIGINAL,`SUCCESS,`Ceramic mug x1,`,`{_fee(refund_fee)},`0.60%,"
                    f"`0.00,`{_yuan(refund_fen)},`\r\n"
                )
        bill.write(SUMMARY_HEADER + "\r\n")
        bill.write(
            f"`{written},`{_yuan(settled)},`{_yuan(refunded)},`0.00,`{_fee(fees)},`{_yuan(settled)},"
            f"`{_yuan(refunded)}\r\n"
        )
    return written


def _copy_rows(cursor, model, rows) -> None:
    """COPY `rows` (dicts by column) into the model's table; columns not given take the field's default or NULL."""
    fields = [field for field in model._meta.concrete_fields]
    columns = [field.column for field in fields]
    with cursor.copy(f"COPY {model._meta.db_table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            values = []
            for field in fields:
                if field.column in row:
                    values.append(row[field.column])
                elif field.has_default():
                    values.append(field.get_default())
                elif field.null:
                    values.append(None)
                else:
                    raise SystemExit(f"the bench gives no value for {model.__name__}.{field.name}: add it")
            copy.write_row(values)


def _local_payments_load(rows: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from customers.models import Customer
    from orders.models import Order, Payment, Refund

    now = timezone.now()
    customer = Customer.objects.create(openid=OPENID)
    ours = [trade for trade in _trades(rows) if _planted(trade[0]) != MISSING_LOCALLY]
    orders = (
        {
            "id": number + 1,
            "order_no": out_trade_no,
            "customer_id": customer.pk,
            "status": "paid",
            "total_fen": fen,
            "note": "",
            "recipient": "张三",
            "phone": "13800000000",
            "province": "广东省",
            "city": "深圳市",
            "district": "南山区",
            "address_detail": "科技园路 1 号",
            "source_campaign": "",
            "idempotency_key": "",
            "request_digest": "",
            "created_at": paid_at,
            "expires_at": paid_at + timedelta(minutes=30),
            "paid_at": paid_at,
            "carrier": "",
            "tracking_number": "",
        }
        for number, out_trade_no, _, fen, paid_at in ours
    )
    payments = (
        {
            "id": number + 1,
            "order_id": number + 1,
            "out_trade_no": out_trade_no,
            "amount_fen": fen,
            "sign_type": "MD5",
            "prepay_id": "",
            "status": "paid",
            "transaction_id": transaction_id,
            "refunded_fen": 0,
            "created_at": now,
            "paid_at": paid_at,
        }
        for number, out_trade_no, transaction_id, fen, paid_at in ours
    )
    refunds = (
        {
            "id": number + 1,
            "payment_id": number + 1,
            "out_refund_no": out_refund_no,
            "amount_fen": refund_fen - (1 if _planted(number) == REFUND_AMOUNT_MISMATCH else 0),
            "reason": "买家退货",
            "status": "succeeded",
            "refund_id": refund_id,
            "failure_reason": "",
            "created_at": requested_at,
            "settled_at": requested_at,
        }
        for number, _, _, fen, paid_at in ours
        if (refund := _refund(number, fen, paid_at)) and _planted(number) != REFUND_MISSING_LOCALLY
        for out_refund_no, refund_id, refund_fen, requested_at in [refund]
    )
    with connection.cursor() as cursor:
        _copy_rows(cursor, Order, orders)
        _copy_rows(cursor, Payment, payments)
        _copy_rows(cursor, Refund, refunds)
        for model in (Order, Payment, Refund):
            table = model._meta.db_table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {rows})")
        # Production tables have statistics (autovacuum); freshly loaded ones get them now.
        cursor.execute("ANALYZE orders_order, orders_payment, orders_refund")


def _side_run(side: str, bill: Path, environment: dict) -> dict:
    answer = subprocess.run(
        [sys.executable, __file__, "--side", side, "--bill", str(bill)],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0:
        sys.exit(f"the {side} side failed:\n{answer.stderr[-3000:]}")
    return json.loads(answer.stdout.strip().splitlines()[-1])


def _megabytes(count: float) -> str:
    return f"{count / 1024 / 1024:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="payments in the bill")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS:,} payments: for tests, seconds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="write the figures to docs/benchmarks.md")
    parser.add_argument("--note", default="", help="recorded with the figures: what the reader should know of the run")
    parser.add_argument("--side", choices=["baseline", "reconcile"], help=argparse.SUPPRESS)
    parser.add_argument("--bill", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.side:  # a child: its environment names the bench database already
        side = _side_baseline if arguments.side == "baseline" else _side_reconcile
        print(json.dumps(side(arguments.bill)))
        return
    rows = QUICK_ROWS if arguments.quick else arguments.rows
    database = side_database("reconcile_bench")
    environment = {
        **os.environ,
        "DATABASE_URL": database.url,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DJANGO_VAR_DIR": os.environ.get("DJANGO_VAR_DIR") or tempfile.mkdtemp(prefix="bench-reconcile-"),
    }

    database.recreate()
    os.environ.update(environment)
    import django

    django.setup()
    from django.core.management import call_command

    planted = planted_discrepancies(rows)
    try:
        call_command("migrate", verbosity=0)
        with tempfile.TemporaryDirectory(prefix="bench-reconcile-bill-") as folder:
            bill = Path(folder) / f"bill-{BILL_DATE:%Y%m%d}.csv"
            started = time.perf_counter()
            bill_rows = _bill_write(bill, rows)
            size = bill.stat().st_size / 1e6
            print(
                f"bill: {bill_rows:,} rows ({rows:,} payments less the missing, refunds), {size:,.0f} MB "
                f"({time.perf_counter() - started:.1f} s); planted discrepancies: {planted}"
            )
            started = time.perf_counter()
            _local_payments_load(rows)
            print(f"local: orders, paid payments and refunds by COPY ({time.perf_counter() - started:.1f} s)")
            from django.db import connections

            connections.close_all()
            print(f"{machine_description()}; {arguments.rounds} interleaved rounds ...", flush=True)
            results = interleaved(
                {
                    "baseline": lambda _: _side_run("baseline", bill, environment),
                    "reconcile": lambda _: _side_run("reconcile", bill, environment),
                },
                rounds=arguments.rounds,
            )
    finally:
        from django.db import connections

        connections.close_all()
        database.drop()

    expected_total = sum(planted.values())
    expected_matched = bill_rows - (expected_total - planted.get("missing_at_wechat", 0))
    for run in results["reconcile"]:
        print(
            f"run: {run['status']}, {run['matched']:,} of {run['rows']:,} bill rows matched, "
            f"{run['discrepancies']} discrepancies found {run['by_kind']}, summary agrees: {run['summary_agrees']}"
        )
        if (
            run["status"] != "succeeded"
            or run["rows"] != bill_rows
            or run["discrepancies"] != expected_total
            or run["by_kind"] != planted
            or run["matched"] != expected_matched
            or not run["summary_agrees"]
        ):
            sys.exit(
                f"FAILED: the run did not find exactly the {expected_total} planted discrepancies {planted}: {run}"
            )
    seconds = {label: [side["seconds"] for side in runs] for label, runs in results.items()}
    peaks = {label: [side["peak_rss"] for side in runs] for label, runs in results.items()}
    table = PlainTable(
        header=["run", "seconds", "bill rows/s", "peak RSS MB", "time ratio to baseline"],
        rows=[
            [
                label,
                Spread.of(seconds[label]).text(2),
                Spread.of([bill_rows / value for value in seconds[label]]).text(0),
                Spread.of([_peak / 1024 / 1024 for _peak in peaks[label]]).text(0),
                "1" if label == "baseline" else ratio_spread(seconds[label], seconds["baseline"]).text(1),
            ]
            for label in ("baseline", "reconcile")
        ],
        rounds=arguments.rounds,
    )
    settings_line = (
        f"{rows:,} payments, {bill_rows:,} bill rows; baseline: csv.reader over the same file; "
        f"peak RSS is each process's VmHWM"
    )
    ratio = ratio_spread(seconds["reconcile"], seconds["baseline"]).median
    peak = max(peaks["reconcile"])
    print(f"\n{settings_line}\n\n{table.text()}\n")
    print(f"reconciliation / csv.reader: {ratio:.1f}x the time (aim: within 5x)")
    print(f"reconciliation peak memory: {_megabytes(peak)} MB (aim: under 500 MB)")
    print(f"discrepancies found: {expected_total} of {expected_total} planted, every round")
    if arguments.record:
        notes = f"Every round found the {expected_total} planted discrepancies ({planted}). {arguments.note}".strip()
        benchmarks_md_record(bench="reconcile", tables={"": table}, settings=settings_line, notes=notes)


if __name__ == "__main__":
    main()
