"""The bill as a temporary table beside orders_payment and orders_refund, so SQL compares a million rows.

The rows stream in as they are parsed (COPY on PostgreSQL, batched inserts on SQLite), so Python
holds one batch at most; the findings go to a second temporary table and are read back a page at
a time. Temporary tables belong to the connection: nothing another process runs can see or clash
with them, and they go when dropped or when the connection closes.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from orders.models import DiscrepancyKind, PaymentStatus, RefundStatus
from wechat.pay.bill import REFUND_STATE, BillRow

BILL_TABLE = "reconciliation_bill_row"
FINDING_TABLE = "reconciliation_finding"
SQLITE_BATCH_ROWS = 2_000
COPY_CHUNK_ROWS = 5_000
FINDINGS_PAGE = 500
PAID = "SUCCESS"  # 交易状态 of a payment row

K, P, R = DiscrepancyKind, PaymentStatus, RefundStatus

FINDING_COLUMNS = (
    "kind",
    "bill_line",
    "out_trade_no",
    "out_refund_no",
    "transaction_id",
    "local_amount_fen",
    "wechat_amount_fen",
    "local_status",
    "wechat_status",
)


@dataclass(frozen=True)
class Finding:
    kind: str
    bill_line: int | None
    out_trade_no: str
    out_refund_no: str
    transaction_id: str
    local_amount_fen: int | None
    wechat_amount_fen: int | None
    local_status: str
    wechat_status: str


def bill_tables_create() -> None:
    identity = "bigint GENERATED ALWAYS AS IDENTITY" if connection.vendor == "postgresql" else "integer"
    with connection.cursor() as cursor:
        bill_tables_drop()
        # Only what the comparison reads (BILL_COLUMNS): every column more costs time for each of a million rows.
        cursor.execute(
            f"""CREATE TEMPORARY TABLE {BILL_TABLE} (
                line_number integer NOT NULL, transaction_id text NOT NULL, out_trade_no text NOT NULL,
                trade_state text NOT NULL, order_fen bigint NOT NULL, out_refund_no text NOT NULL,
                refund_requested_fen bigint NOT NULL, refund_status text NOT NULL)"""
        )
        cursor.execute(
            f"""CREATE TEMPORARY TABLE {FINDING_TABLE} (
                id {identity} PRIMARY KEY, kind text NOT NULL, bill_line integer, out_trade_no text NOT NULL,
                out_refund_no text NOT NULL, transaction_id text NOT NULL, local_amount_fen bigint,
                wechat_amount_fen bigint, local_status text NOT NULL, wechat_status text NOT NULL)"""
        )


def bill_tables_drop() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {BILL_TABLE}")
        cursor.execute(f"DROP TABLE IF EXISTS {FINDING_TABLE}")


def bill_rows_load(rows: Iterable[BillRow]) -> None:
    """Stream the rows into the bill table; then analyse (or index) it for the comparison.

    The bill streams in from WeChat while this transaction is open. It writes nothing but this
    connection's temporary table and locks nothing another session waits for (a COPY is one
    statement, so one transaction, anyway); it is explicit so that a bill that turns out
    malformed halfway rolls back cleanly, inside a caller's transaction too.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {BILL_TABLE} FROM STDIN") as copy:
                for chunk in _copy_text_chunks(rows):
                    copy.write(chunk)
            # Temporary tables are never analysed by autovacuum: without statistics the planner
            # would guess a tiny table and pick nested loops over a million rows.
            cursor.execute(f"ANALYZE {BILL_TABLE}")
        else:
            insert = f"INSERT INTO {BILL_TABLE} VALUES ({', '.join(['%s'] * 8)})"
            for batch in _batches(rows, SQLITE_BATCH_ROWS):
                cursor.executemany(insert, [_bill_values(row) for row in batch])
            # SQLite joins by nested loops: the lookups need indexes.
            cursor.execute(f"CREATE INDEX {BILL_TABLE}_trade ON {BILL_TABLE} (out_trade_no)")
            cursor.execute(f"CREATE INDEX {BILL_TABLE}_refund ON {BILL_TABLE} (out_refund_no)")


def _bill_values(row: BillRow) -> tuple:
    return (
        row.line_number,
        row.transaction_id,
        row.out_trade_no,
        row.trade_state,
        row.order_fen,
        row.out_refund_no,
        row.refund_requested_fen,
        row.refund_status,
    )


def _copy_text_chunks(rows: Iterable[BillRow]) -> Iterator[str]:
    """The rows in COPY's text format, about COPY_CHUNK_ROWS to a chunk.

    Written by hand: psycopg's write_row adapts every value of every row in Python, which over
    a million rows costs more than parsing the bill (docs/benchmarks.md). WeChat's numbers and
    states never hold a tab, a backslash or a carriage return; a row that does (a malformed
    bill) is escaped field by field.
    """
    lines = []
    for row in rows:
        (line_number, _, transaction_id, out_trade_no, trade_state, order_fen, _, _, out_refund_no,
         refund_requested_fen, _, refund_status) = row  # fmt: skip
        line = (
            f"{line_number}\t{transaction_id}\t{out_trade_no}\t{trade_state}\t{order_fen}\t"
            f"{out_refund_no}\t{refund_requested_fen}\t{refund_status}\n"
        )
        if line.count("\t") != 7 or "\\" in line or "\r" in line or line.count("\n") != 1:
            line = "\t".join(_copy_escaped(value) for value in _bill_values(row)) + "\n"
        lines.append(line)
        if len(lines) == COPY_CHUNK_ROWS:
            yield "".join(lines)
            lines = []
    if lines:
        yield "".join(lines)


def _copy_escaped(value: object) -> str:
    text = str(value)
    for raw, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = text.replace(raw, escaped)
    return text


def bill_row_counts() -> tuple[int, int]:
    """(payment rows, refund rows) in the bill table."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(CASE WHEN trade_state = %s THEN 0 ELSE 1 END), 0), "
            f"COALESCE(SUM(CASE WHEN trade_state = %s THEN 1 ELSE 0 END), 0) FROM {BILL_TABLE}",
            [REFUND_STATE, REFUND_STATE],
        )
        payments, refunds = cursor.fetchone()
    return int(payments), int(refunds)


def findings_compare(
    *, day_start: datetime, day_end: datetime, mch_id: str = "", with_unattributed: bool = True
) -> None:
    """Write into the findings table every bill row that disagrees with ours, and every one of ours the bill lacks.

    Bill rows are matched with our payments and refunds of any date (a payment WeChat dates just
    after midnight is still ours); ours are expected in the bill of the Beijing day they were paid
    (paid_at is WeChat's time_end) or, for refunds, requested, and only in the bill of the merchant
    they were made through (`mch_id`; `with_unattributed`: payments from before merchants were rows too).
    """
    merchant = {"mch_id": mch_id, "unattributed": "" if with_unattributed else mch_id}
    # A payment of ours is the bill's merchant's when made through it (or, unattributed, through the default).
    through_merchant = "(p.mch_id = %(mch_id)s OR p.mch_id = %(unattributed)s)"
    insert = f"INSERT INTO {FINDING_TABLE} ({', '.join(FINDING_COLUMNS)}) "
    # As the backend stores them (SQLite: UTC text), since raw SQL skips the ORM's conversion.
    day_start = connection.ops.adapt_datetimefield_value(day_start)
    day_end = connection.ops.adapt_datetimefield_value(day_end)
    with connection.cursor() as cursor:
        # Payment rows. A row in another state than SUCCESS (REVOKED) disagrees only if we hold it paid.
        cursor.execute(
            insert
            + f"""SELECT CASE WHEN b.trade_state <> %(paid)s THEN %(status)s
                              WHEN p.id IS NULL OR p.status <> %(local_paid)s THEN %(missing)s
                              WHEN p.amount_fen <> b.order_fen THEN %(amount)s
                              ELSE %(status)s END,
                         b.line_number, b.out_trade_no, '', b.transaction_id, p.amount_fen, b.order_fen,
                         COALESCE(p.status, ''), b.trade_state
                  FROM {BILL_TABLE} b LEFT JOIN orders_payment p ON p.out_trade_no = b.out_trade_no
                  WHERE b.trade_state <> %(refund)s AND (
                      (b.trade_state = %(paid)s AND (
                          p.id IS NULL OR p.status <> %(local_paid)s OR p.amount_fen <> b.order_fen
                          OR COALESCE(p.transaction_id, '') <> b.transaction_id))
                      OR (b.trade_state <> %(paid)s AND p.status = %(local_paid)s))""",
            {
                "paid": PAID,
                "refund": REFUND_STATE,
                "local_paid": P.PAID,
                "missing": K.MISSING_LOCALLY,
                "amount": K.AMOUNT_MISMATCH,
                "status": K.STATUS_MISMATCH,
            },
        )
        # Our payments of the day that WeChat's bill does not list.
        cursor.execute(
            insert
            + f"""SELECT %(missing)s, NULL, p.out_trade_no, '', COALESCE(p.transaction_id, ''), p.amount_fen, NULL,
                         p.status, ''
                  FROM orders_payment p
                  WHERE p.status = %(local_paid)s AND p.paid_at >= %(start)s AND p.paid_at < %(end)s
                    AND {through_merchant}
                    AND NOT EXISTS (SELECT 1 FROM {BILL_TABLE} b
                                    WHERE b.out_trade_no = p.out_trade_no AND b.trade_state = %(paid)s)""",
            {
                "missing": K.MISSING_AT_WECHAT,
                "local_paid": P.PAID,
                "start": day_start,
                "end": day_end,
                "paid": PAID,
                **merchant,
            },
        )
        # Refund rows: our status as WeChat's 退款状态 would say it (requested counts as processing).
        cursor.execute(
            insert
            + f"""SELECT CASE WHEN r.id IS NULL THEN %(missing)s
                              WHEN r.amount_fen <> b.refund_requested_fen THEN %(amount)s
                              ELSE %(status)s END,
                         b.line_number, b.out_trade_no, b.out_refund_no, b.transaction_id, r.amount_fen,
                         b.refund_requested_fen, COALESCE(r.status, ''), b.refund_status
                  FROM {BILL_TABLE} b LEFT JOIN orders_refund r ON r.out_refund_no = b.out_refund_no
                  WHERE b.trade_state = %(refund)s AND (
                      r.id IS NULL OR r.amount_fen <> b.refund_requested_fen
                      OR CASE b.refund_status WHEN 'SUCCESS' THEN %(succeeded)s
                                              WHEN 'PROCESSING' THEN %(processing)s ELSE %(failed)s END
                         <> CASE r.status WHEN %(requested)s THEN %(processing)s ELSE r.status END)""",
            {
                "refund": REFUND_STATE,
                "missing": K.MISSING_LOCALLY,
                "amount": K.AMOUNT_MISMATCH,
                "status": K.STATUS_MISMATCH,
                "succeeded": R.SUCCEEDED,
                "processing": R.PROCESSING,
                "failed": R.FAILED,
                "requested": R.REQUESTED,
            },
        )
        # Our refunds of the day that WeChat took (processing or succeeded) and its bill does not list.
        cursor.execute(
            insert
            + f"""SELECT %(missing)s, NULL, p.out_trade_no, r.out_refund_no, COALESCE(r.refund_id, ''), r.amount_fen,
                         NULL, r.status, ''
                  FROM orders_refund r JOIN orders_payment p ON p.id = r.payment_id
                  WHERE r.status IN (%(processing)s, %(succeeded)s) AND r.created_at >= %(start)s
                    AND r.created_at < %(end)s AND {through_merchant}
                    AND NOT EXISTS (SELECT 1 FROM {BILL_TABLE} b
                                    WHERE b.out_refund_no = r.out_refund_no AND b.trade_state = %(refund)s)""",
            {
                "missing": K.MISSING_AT_WECHAT,
                "processing": R.PROCESSING,
                "succeeded": R.SUCCEEDED,
                "start": day_start,
                "end": day_end,
                "refund": REFUND_STATE,
                **merchant,
            },
        )


def finding_add(finding: Finding) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {FINDING_TABLE} ({', '.join(FINDING_COLUMNS)}) VALUES ({', '.join(['%s'] * 9)})",
            [getattr(finding, name) for name in FINDING_COLUMNS],
        )


def bill_rows_with_findings() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(DISTINCT bill_line) FROM {FINDING_TABLE} WHERE bill_line IS NOT NULL")
        return int(cursor.fetchone()[0])


def findings_pages() -> Iterator[list[Finding]]:
    """The findings, a page at a time (by id: a page is one indexed query, whatever the table's size)."""
    last_id = 0
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT id, {', '.join(FINDING_COLUMNS)} FROM {FINDING_TABLE} WHERE id > %s ORDER BY id LIMIT %s",
                [last_id, FINDINGS_PAGE],
            )
            page = cursor.fetchall()
        if not page:
            return
        last_id = page[-1][0]
        yield [Finding(*row[1:]) for row in page]


def _batches(rows: Iterable[BillRow], size: int) -> Iterator[list[BillRow]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
