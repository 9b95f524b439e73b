"""Reconciling a day's WeChat Pay bill against our payments in PostgreSQL, beside csv.reader reading the same file.

    DATABASE_URL=postgres://user@host:5432/name .venv/bin/python bench/reconcile.py [--rows 1000000]

Creates its own database (<name>_reconcile_bench, dropped at the end), writes a bill of `rows`
payment rows in WeChat's format (27 columns, backticked fields, CRLF, the summary header and row;
the layout of tests/fixtures/wechat/bill-sample.csv) to a temporary file, and loads the matching
`rows` orders and paid payments with COPY. Then, each in a fresh Python process so that neither
counts the other's memory:
- baseline: csv.reader reads the file, row by row, and does nothing with the rows (run before
  and after the reconciliation; their mean counts);
- reconcile: the product's reconciliation_run_from_lines() fed the file's lines (the download
  left out: it is the one seam), which parses, streams the rows into PostgreSQL, compares them
  with the payments of the day in SQL, checks the summary, and records the run.
It prints seconds, rows/s and peak memory (the process's peak resident set, VmHWM: Python,
Django, psycopg and their buffers, everything) for both, the ratio of the times (aim: within 5x)
and checks that the run matched every row and found no discrepancy.
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
    from orders.models import ReconciliationTrigger
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
        "summary_agrees": run.summary_settlement_fen == run.rows_settlement_fen
        and run.summary_trade_count == run.payment_rows + run.refund_rows,
    }


# --- setting up: the bill file and the matching orders and payments ---------------------------------------------


def _trades(rows: int):
    """(out_trade_no, transaction_id, amount in fen, paid at) for each payment, in time order."""
    amounts = random.Random(42)
    day_start = datetime(BILL_DATE.year, BILL_DATE.month, BILL_DATE.day, tzinfo=_beijing())
    step = 86_400 / rows
    for number in range(rows):
        yield (
            f"B{BILL_DATE:%Y%m%d}{number:015d}",
            f"4200002026{BILL_DATE:%m%d}{number:014d}",
            amounts.randint(1, 200_000),
            day_start + timedelta(seconds=int(number * step)),
        )


def _beijing():
    from zoneinfo import ZoneInfo

    return ZoneInfo("Asia/Shanghai")


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _bill_write(path: Path, rows: int) -> None:
    """The bill as WeChat writes it; amounts summed in fen, the fee rounded half up at 0.60% as the sandbox does."""
    settled = fees = 0
    with path.open("w", encoding="utf-8", newline="") as bill:
        bill.write(COLUMNS + "\r\n")
        for out_trade_no, transaction_id, fen, paid_at in _trades(rows):
            fee = (fen * 6 + 500) // 1000
            settled += fen
            fees += fee
            amount = _yuan(fen)
            bill.write(
                f"`{paid_at:%Y-%m-%d %H:%M:%S},`{APPID},`{MCH_ID},`0,`,`{transaction_id},`{out_trade_no},`{OPENID},"
                f"`JSAPI,`SUCCESS,`OTHERS,`CNY,`{amount},`0.00,`0,`0,`0.00,`0.00,`,`,`Ceramic mug x1,`,"
                f"`{fee // 100}.{fee % 100:02d}000,`0.60%,`{amount},`0.00,`\r\n"
            )
        bill.write(SUMMARY_HEADER + "\r\n")
        fee_total = f"{fees // 100}.{fees % 100:02d}000"
        bill.write(f"`{rows},`{_yuan(settled)},`0.00,`0.00,`{fee_total},`{_yuan(settled)},`0.00\r\n")


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
    from orders.models import Order, Payment

    now = timezone.now()
    customer = Customer.objects.create(openid=OPENID)
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
        for number, (out_trade_no, _, fen, paid_at) in enumerate(_trades(rows))
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
        for number, (out_trade_no, transaction_id, fen, paid_at) in enumerate(_trades(rows))
    )
    with connection.cursor() as cursor:
        _copy_rows(cursor, Order, orders)
        _copy_rows(cursor, Payment, payments)
        for model in (Order, Payment):
            table = model._meta.db_table
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {rows})")
        # Production tables have statistics (autovacuum); freshly loaded ones get them now.
        cursor.execute("ANALYZE orders_order, orders_payment")


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


def _megabytes(count: int) -> str:
    return f"{count / 1024 / 1024:,.0f} MB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--side", choices=["baseline", "reconcile"], help=argparse.SUPPRESS)
    parser.add_argument("--bill", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.side:  # a child: its environment names the bench database already
        side = _side_baseline if arguments.side == "baseline" else _side_reconcile
        print(json.dumps(side(arguments.bill)))
        return
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

    try:
        call_command("migrate", verbosity=0)
        with tempfile.TemporaryDirectory(prefix="bench-reconcile-bill-") as folder:
            bill = Path(folder) / f"bill-{BILL_DATE:%Y%m%d}.csv"
            started = time.perf_counter()
            _bill_write(bill, arguments.rows)
            size = bill.stat().st_size / 1e6
            print(f"bill: {arguments.rows:,} rows, {size:,.0f} MB ({time.perf_counter() - started:.1f} s)")
            started = time.perf_counter()
            _local_payments_load(arguments.rows)
            print(f"local: {arguments.rows:,} orders and paid payments by COPY ({time.perf_counter() - started:.1f} s)")
            from django.db import connections

            connections.close_all()
            # The baseline runs before and after, and counts as their mean: a machine busier during one
            # of them moves the ratio less.
            before = _side_run("baseline", bill, environment)
            reconcile = _side_run("reconcile", bill, environment)
            after = _side_run("baseline", bill, environment)
            baseline = {**after, "seconds": (before["seconds"] + after["seconds"]) / 2}
    finally:
        from django.db import connections

        connections.close_all()
        database.drop()

    print()
    print(f"{'':<28}{'seconds':>10}{'rows/s':>12}{'peak memory':>14}")
    for label, side in (("csv.reader alone (baseline)", baseline), ("reconciliation", reconcile)):
        rows_per_second = side["rows"] / side["seconds"]
        print(f"{label:<28}{side['seconds']:>10.1f}{rows_per_second:>12,.0f}{_megabytes(side['peak_rss']):>14}")
    print(f"(baseline runs: {before['seconds']:.1f} s before, {after['seconds']:.1f} s after)")
    ratio = reconcile["seconds"] / baseline["seconds"]
    print(f"\nreconciliation / baseline: {ratio:.1f}x (aim: within 5x); peak memory aim: under 500 MB")
    print(
        f"run: {reconcile['status']}, {reconcile['matched']:,} of {reconcile['rows']:,} rows matched, "
        f"{reconcile['discrepancies']} discrepancies, summary agrees: {reconcile['summary_agrees']}"
    )
    if reconcile["status"] != "succeeded" or reconcile["matched"] != arguments.rows or reconcile["discrepancies"]:
        sys.exit(f"the run did not match every row: {reconcile}")


if __name__ == "__main__":
    main()
