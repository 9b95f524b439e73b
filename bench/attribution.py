"""The revenue-by-source report over a million orders on PostgreSQL, beside a plain SUM ... GROUP BY campaign_id.

    DATABASE_URL=postgres://user@host:5432/name .venv/bin/python bench/attribution.py [--orders 1000000]
        [--campaigns 200] [--customers 200000] [--quick] [--rounds 3] [--record --note "..."]

Creates its own database (<name>_attribution_bench, dropped at the end), migrated, and fills it
with server-side INSERT ... SELECT generate_series (seconds, not minutes): `campaigns` campaigns
(an eighth pushes, each with three articles that have campaigns of their own, sent; the
other half posters), `customers` customers (a third with a first campaign and a first login in the range),
`orders` orders paid over 90 Beijing days (9 in 10 with one of our campaigns, the rest with no
code or one not ours, each with a launch scene), a payment for every 50th order and a succeeded
partial refund of it, and WeChat's daily statistics of every push's articles on every day. Then
VACUUM ANALYZE, as autovacuum leaves a production table.

After one untimed run of each (the report's first call in a process imports what it needs),
alternating over --rounds rounds (the order rotated each round), in this process, each timed
from the call to the last row fetched:
- baseline: SELECT campaign_id, SUM(total_fen) FROM orders_order GROUP BY campaign_id;
- report by campaign, by push, by scene: orders/revenue.py's revenue_by_source() over the whole
  range, every query it makes (orders, visitors, readers, names).
It prints medians (min–max) and each report's ratio to the baseline (aim: within 3x), and checks
that the report's total agrees with a direct SUM over the same orders less the refunds.
"""

import argparse
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import PlainTable, Spread, benchmarks_md_record, interleaved, machine_description, ratio_spread
from bench.side_database import side_database

FIRST_DAY = date(2026, 9, 1)
DAYS = 90
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
QUICK_ORDERS, QUICK_CUSTOMERS = 20_000, 4_000
REFUND_EVERY = 50
ARTICLES_PER_PUSH = 3
GROUPINGS = ("campaign", "push", "scene")
AIM = 3.0


def _load(*, orders: int, campaigns: int, customers: int) -> None:
    """Every row by INSERT ... SELECT generate_series, in the database Django is connected to."""
    from django.db import connection

    pushes = max(1, campaigns // (1 + ARTICLES_PER_PUSH) // 2)  # half the campaigns are pushes' and articles'
    start = f"TIMESTAMPTZ '{FIRST_DAY.isoformat()} 00:00:00+08'"
    with connection.cursor() as cursor:
        _official_account()
        # Campaigns: 1..pushes for pushes (p<n>), then the pushes' articles (a<n>), then posters.
        cursor.execute(
            "INSERT INTO campaigns_campaign (id, name, channel, code, created_at)"
            " SELECT n, 'Campaign ' || n,"
            "  CASE WHEN n <= %(pushes)s THEN 'push' WHEN n <= %(sourced)s THEN 'article' ELSE 'poster' END,"
            "  CASE WHEN n <= %(pushes)s THEN 'p' || n WHEN n <= %(sourced)s THEN 'a' || (n - %(pushes)s)"
            "   ELSE 'poster-' || n END, now()"
            " FROM generate_series(1, %(campaigns)s) n",
            {"pushes": pushes, "sourced": pushes * (1 + ARTICLES_PER_PUSH), "campaigns": campaigns},
        )
        cursor.execute(
            "INSERT INTO articles_push (id, account_id, title, mode, audience, audience_openids, status,"
            " failure_reason, campaign_id, thumb_media_id, draft_media_id, publish_id, draft_fingerprint,"
            " created_at, scheduled_at, sent_at)"
            f" SELECT n, 1, 'Push ' || n, 'mass_send', 'all', '', 'sent', '', n, '', '', '', '',"
            f"  {start} + (n - 1) * interval '1 day', {start} + (n - 1) * interval '1 day',"
            f"  {start} + (n - 1) * interval '1 day'"
            " FROM generate_series(1, %(pushes)s) n",
            {"pushes": pushes},
        )
        cursor.execute(
            "INSERT INTO articles_article (id, title, author, digest, content, content_source_url, cover,"
            " campaign_id, need_open_comment, only_fans_can_comment, created_at, updated_at)"
            " SELECT n, 'Article ' || n, '', '', '<p>Tea.</p>', '', 'articles/covers/bench.jpg', %(pushes)s + n,"
            " false, false, now(), now() FROM generate_series(1, %(articles)s) n",
            {"pushes": pushes, "articles": pushes * ARTICLES_PER_PUSH},
        )
        cursor.execute(
            "INSERT INTO articles_pusharticle (push_id, article_id, position, article_url, thumb_media_id)"
            " SELECT (n - 1) / %(per)s + 1, n, (n - 1) %% %(per)s + 1, '', ''"
            " FROM generate_series(1, %(articles)s) n",
            {"per": ARTICLES_PER_PUSH, "articles": pushes * ARTICLES_PER_PUSH},
        )
        cursor.execute(
            "INSERT INTO articles_pushbatch (push_id, number, clientmsgid, msg_id, msg_data_id, job_status,"
            " job_status_reason) SELECT n, 1, 'bench-' || n, '', (2247480000 + n)::text, 'send success', ''"
            " FROM generate_series(1, %(pushes)s) n",
            {"pushes": pushes},
        )
        # WeChat's daily readers of every push's articles on every day of the range.
        cursor.execute(
            "INSERT INTO articles_articledailystatistics (account_id, day, msgid, msg_data_id, article_index,"
            " title, int_page_read_user, int_page_read_count, ori_page_read_user, ori_page_read_count,"
            " share_user, share_count, add_to_fav_user, add_to_fav_count)"
            " SELECT 1, %(first)s::date + d, (2247480000 + p)::text || '_' || i, (2247480000 + p)::text, i, '',"
            "  (p * 7 + i * 13 + d) %% 500, 0, 0, 0, 0, 0, 0, 0"
            " FROM generate_series(1, %(pushes)s) p, generate_series(1, %(per)s) i,"
            "  generate_series(0, %(days)s - 1) d",
            {"first": FIRST_DAY, "pushes": pushes, "per": ARTICLES_PER_PUSH, "days": DAYS},
        )
        # Customers: a third came in through a campaign during the range.
        cursor.execute(
            "INSERT INTO customers_customer (id, openid, unionid, nickname, avatar_url, session_key,"
            " first_source_campaign, first_source_scene, first_source_path, first_source_at, first_campaign_id,"
            " created_at)"
            " SELECT n, 'o-bench-' || n, '', '', '', '',"
            "  CASE WHEN n %% 3 = 0 THEN 'c' ELSE '' END, CASE WHEN n %% 3 = 0 THEN 1058 END, '',"
            f"  CASE WHEN n %% 3 = 0 THEN {start} + (n %% %(days)s) * interval '1 day' END,"
            "  CASE WHEN n %% 3 = 0 THEN n %% %(campaigns)s + 1 END, now()"
            " FROM generate_series(1, %(customers)s) n",
            {"customers": customers, "campaigns": campaigns, "days": DAYS},
        )
        # Orders: spread over the range; 9 in 10 with one of our campaigns, every 20th with a code not ours.
        cursor.execute(
            "INSERT INTO orders_order (id, order_no, customer_id, status, total_fen, note, recipient, phone,"
            " province, city, district, address_detail, source_scene, source_campaign, source_path, campaign_id,"
            " idempotency_key, request_digest, created_at, expires_at, paid_at, carrier, tracking_number)"
            " SELECT n, lpad(n::text, 24, '0'), (n::bigint * 7919) %% %(customers)s + 1, 'paid',"
            "  100 + (n * 37) %% 50000,"
            "  '', '张三', '13800000000', '广东省', '深圳市', '南山区', '科技园路 1 号',"
            "  (ARRAY[1058, 1035, 1047, 1001, NULL])[n %% 5 + 1],"
            "  CASE WHEN n %% 10 = 0 THEN '' WHEN n %% 20 = 5 THEN 'not-ours' ELSE 'c' END, '',"
            "  CASE WHEN n %% 10 = 0 OR n %% 20 = 5 THEN NULL ELSE (n * 13 + n / 7) %% %(campaigns)s + 1 END,"
            "  '', '', paid, paid + interval '30 minutes', paid, '', ''"
            f" FROM (SELECT n, {start} + ((n - 1)::float / %(orders)s * %(days)s) * interval '1 day' AS paid"
            "  FROM generate_series(1, %(orders)s) n) o",
            {"orders": orders, "customers": customers, "campaigns": campaigns, "days": DAYS},
        )
        # Every 50th order was paid and later partly refunded.
        cursor.execute(
            "INSERT INTO orders_payment (id, order_id, out_trade_no, amount_fen, sign_type, appid, mch_id,"
            " prepay_id, status, transaction_id, refunded_fen, created_at, paid_at)"
            " SELECT o.id, o.id, o.order_no, o.total_fen, 'MD5', '', '', '', 'paid', 't' || o.id,"
            "  o.total_fen / 3, o.paid_at, o.paid_at FROM orders_order o WHERE o.id %% %(every)s = 1",
            {"every": REFUND_EVERY},
        )
        cursor.execute(
            "INSERT INTO orders_refund (payment_id, out_refund_no, amount_fen, reason, status, refund_id,"
            " failure_reason, created_at, settled_at)"
            " SELECT p.id, 'R' || p.id, p.refunded_fen, '买家退货', 'succeeded', 'r' || p.id, '', now(), now()"
            " FROM orders_payment p WHERE p.refunded_fen > 0"
        )
        for table in ("customers_customer", "orders_order", "orders_payment", "campaigns_campaign"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
    connection.close()
    # VACUUM cannot run in a transaction: a connection of its own, in autocommit.
    import psycopg

    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as maintenance:
        maintenance.execute("VACUUM ANALYZE")


def _official_account() -> None:
    from wechat.models import OfficialAccount

    OfficialAccount.objects.create(
        pk=1,
        name="Bench",
        appid="wxbench00000000000",
        app_secret="bench-secret",
        account_type=OfficialAccount.AccountType.SERVICE,
        callback_token="benchToken42",
        encoding_aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        message_mode=OfficialAccount.MessageMode.SAFE,
    )


def _baseline(_round: int) -> dict:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT campaign_id, SUM(total_fen) FROM orders_order GROUP BY campaign_id")
        rows = cursor.fetchall()
    return {"seconds": time.perf_counter() - started, "rows": len(rows)}


def _report(grouping: str):
    def run(_round: int) -> dict:
        from orders.revenue import revenue_by_source

        started = time.perf_counter()
        report = revenue_by_source(grouping=grouping, first_day=FIRST_DAY, last_day=LAST_DAY)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "rows": len(report.rows), "total": report.total}

    return run


def _expected_total() -> tuple[int, int, int]:
    """(orders, buyers, revenue fen) by a direct query: what every report's total row must say."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*), COUNT(DISTINCT customer_id), SUM(total_fen) FROM orders_order WHERE paid_at IS NOT NULL"
        )
        orders, buyers, fen = cursor.fetchone()
        cursor.execute("SELECT COALESCE(SUM(amount_fen), 0) FROM orders_refund WHERE status = 'succeeded'")
        refunded = cursor.fetchone()[0]
    return int(orders), int(buyers), int(fen) - int(refunded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=200)
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ORDERS:,} orders: for tests, seconds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="write the figures to docs/benchmarks.md")
    parser.add_argument("--note", default="", help="recorded with the figures: what the reader should know of the run")
    parser.add_argument("--keep", action="store_true", help="keep the bench's database")
    arguments = parser.parse_args()
    orders = QUICK_ORDERS if arguments.quick else arguments.orders
    customers = QUICK_CUSTOMERS if arguments.quick else arguments.customers

    database = side_database("attribution_bench")
    os.environ.update(
        {
            "DATABASE_URL": database.url,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DJANGO_VAR_DIR": os.environ.get("DJANGO_VAR_DIR") or tempfile.mkdtemp(prefix="bench-attribution-"),
        }
    )
    database.recreate()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    settings.DEBUG = False  # as in production: DEBUG would keep every query in memory
    try:
        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        _load(orders=orders, campaigns=arguments.campaigns, customers=customers)
        print(
            f"loaded {orders:,} orders, {arguments.campaigns} campaigns, {customers:,} customers, refunds and "
            f"statistics by INSERT ... SELECT generate_series, then VACUUM ANALYZE "
            f"({time.perf_counter() - started:.1f} s)"
        )
        expected = _expected_total()
        runs = {"baseline": _baseline, **{f"report by {grouping}": _report(grouping) for grouping in GROUPINGS}}
        # One untimed run of each side first, as a server process has made before it serves the page: the
        # report's first call imports what it needs (the admin's URLconf, for its links), once a process.
        for run in runs.values():
            run(0)
        print(f"{machine_description()}; {arguments.rounds} interleaved rounds ...", flush=True)
        results = interleaved(runs, rounds=arguments.rounds)
    finally:
        connections.close_all()
        if arguments.keep:
            print(f"kept: database {database.name}")
        else:
            database.drop()

    for label, runs in results.items():
        for run in runs:
            if label != "baseline":
                total = run["total"]
                if (total.orders, total.buyers, total.revenue_fen) != expected:
                    sys.exit(f"FAILED: {label}'s total {total} is not the orders' own {expected}")
    seconds = {label: [run["seconds"] for run in runs] for label, runs in results.items()}
    table = PlainTable(
        header=["run", "seconds", "rows", "time ratio to baseline"],
        rows=[
            [
                label,
                Spread.of(seconds[label]).text(3),
                str(results[label][0]["rows"]),
                "1" if label == "baseline" else ratio_spread(seconds[label], seconds["baseline"]).text(2),
            ]
            for label in results
        ],
        rounds=arguments.rounds,
    )
    settings_line = (
        f"{orders:,} orders over {DAYS} days, {arguments.campaigns} campaigns, {customers:,} customers; "
        f"baseline: SELECT campaign_id, SUM(total_fen) FROM orders_order GROUP BY campaign_id"
    )
    print(f"\n{settings_line}\n\n{table.text()}\n")
    for grouping in GROUPINGS:
        ratio = ratio_spread(seconds[f"report by {grouping}"], seconds["baseline"]).median
        print(f"report by {grouping} / SUM GROUP BY: {ratio:.2f}x the time (aim: within {AIM:g}x)")
    print(f"report totals agree with the orders: {expected[0]:,} orders, {expected[1]:,} buyers, every round")
    if arguments.record:
        benchmarks_md_record(bench="attribution", tables={"": table}, settings=settings_line, notes=arguments.note)


if __name__ == "__main__":
    main()
