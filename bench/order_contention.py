"""Order creation under contention on PostgreSQL, against bare conditional UPDATEs on the same database.

    DATABASE_URL=postgres://user@host:5432/name .venv/bin/python bench/order_contention.py [--workers 16]

Creates its own database (<name>_order_bench, dropped at the end), then runs two scenarios, each
with `workers` processes (one PostgreSQL connection each, no shared GIL) released at one instant:
- hot: every attempt buys 1 of one SKU whose stock covers 80% of the attempts;
- spread: every attempt buys 1 of one of 200 SKUs picked at random, stock for all.
Each attempt is a whole order_create (address, prices, snapshots, lines, event, idempotency key).
The baseline replays the same attempts as bare `UPDATE ... SET stock = stock - 1 WHERE id = %s AND
stock >= 1` statements in autocommit through psycopg: the floor of what taking stock costs.
A third run writes what an order writes (stock, order, line, event) as one SQL statement through
psycopg, with no application code at all: the most any implementation of an order could reach
against the baseline on this machine, printed so the ratio can be read against it.
Oversell is stock taken beyond what was there, or stock that does not match the orders: it must be 0.
"""

import argparse
import multiprocessing
import os
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.side_database import side_database

SPREAD_SKUS = 200
HOT_STOCK_SHARE = 0.8


DATABASE = side_database("order_bench")
os.environ["DATABASE_URL"] = DATABASE.url
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
os.environ["DJANGO_VAR_DIR"] = tempfile.mkdtemp(prefix="bench-orders-")
DATABASE.recreate()

import django  # noqa: E402
import psycopg  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

# As in production: DEBUG would log every query, which costs the order path more than the bare UPDATEs.
settings.DEBUG = False

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.db.models import Sum  # noqa: E402

from catalog.models import Sku  # noqa: E402
from orders.exceptions import InsufficientStock  # noqa: E402
from orders.models import Order, OrderLine  # noqa: E402
from orders.services.placement import order_create  # noqa: E402
from tests.factories import AddressFactory, CustomerFactory, SkuFactory  # noqa: E402

# Set in the parent before the pool forks, so every worker inherits the same barrier.
start_line: multiprocessing.Barrier


def _orders_worker(customer_id: int, address_id: int, sku_ids: list[int]) -> tuple[int, int, list[str]]:
    from customers.models import Customer

    customer = Customer.objects.get(pk=customer_id)
    placed, refused, errors = 0, 0, []
    start_line.wait()
    for sku_id in sku_ids:
        try:
            order_create(
                customer=customer,
                address_id=address_id,
                items=[{"sku_id": sku_id, "quantity": 1}],
                idempotency_key=uuid.uuid4().hex,
            )
            placed += 1
        except InsufficientStock:
            refused += 1
        except Exception as error:  # noqa: BLE001 - reported, and fails the bench
            errors.append(repr(error))
    connection.close()
    return placed, refused, errors


def _updates_worker(sku_ids: list[int]) -> tuple[int, int, list[str]]:
    taken, refused = 0, 0
    with psycopg.connect(DATABASE.url, autocommit=True) as database:
        start_line.wait()
        for sku_id in sku_ids:
            cursor = database.execute(
                "UPDATE catalog_sku SET stock = stock - 1 WHERE id = %s AND stock >= 1", (sku_id,)
            )
            if cursor.rowcount == 1:
                taken += 1
            else:
                refused += 1
    return taken, refused, []


# An order's writes with no application code: take the stock, then insert the order (address
# copied), its line and its creation event, all in one statement and one round trip.
ONE_STATEMENT_ORDER = """
WITH taken AS (
    UPDATE catalog_sku AS sku SET stock = sku.stock - 1
    FROM catalog_product AS product
    WHERE sku.id = %(sku_id)s AND sku.is_active AND sku.stock >= 1
        AND product.id = sku.product_id AND product.is_active
    RETURNING sku.id, sku.price_fen, sku.specs, product.title
), placed AS (
    INSERT INTO orders_order (
        order_no, customer_id, status, total_fen, note, recipient, phone, province, city, district,
        address_detail, source_campaign, idempotency_key, request_digest, created_at, expires_at,
        carrier, tracking_number
    )
    SELECT %(order_no)s, address.customer_id, 'pending_payment', taken.price_fen, '', address.recipient,
        address.phone, address.province, address.city, address.district, address.detail, '',
        %(idempotency_key)s, '', now(), now() + interval '30 minutes', '', ''
    FROM taken, orders_address AS address
    WHERE address.id = %(address_id)s
    RETURNING id
), line AS (
    INSERT INTO orders_orderline (order_id, sku_id, title, specs, image, price_fen, quantity, subtotal_fen)
    SELECT placed.id, taken.id, taken.title, taken.specs, '', taken.price_fen, 1, taken.price_fen
    FROM placed, taken
), event AS (
    INSERT INTO orders_orderevent (order_id, from_status, to_status, actor, reason, at)
    SELECT id, '', 'pending_payment', 'customer', '', now() FROM placed
)
SELECT id FROM placed
"""


def _one_statement_worker(customer_id: int, address_id: int, sku_ids: list[int]) -> tuple[int, int, list[str]]:
    placed, refused = 0, 0
    with psycopg.connect(DATABASE.url, autocommit=True) as database:
        start_line.wait()
        for sku_id in sku_ids:
            cursor = database.execute(
                ONE_STATEMENT_ORDER,
                {
                    "sku_id": sku_id,
                    "address_id": address_id,
                    "order_no": uuid.uuid4().hex,
                    "idempotency_key": uuid.uuid4().hex,
                },
            )
            if cursor.fetchone() is None:
                refused += 1
            else:
                placed += 1
    return placed, refused, []


def _run(worker, arguments: list[tuple]) -> tuple[float, int, int]:
    """Run `worker` once per argument tuple, each in its own process, released together; (seconds, ok, refused)."""
    global start_line
    start_line = multiprocessing.Barrier(len(arguments) + 1)
    connections.close_all()  # never carry a connection across fork
    with multiprocessing.get_context("fork").Pool(len(arguments)) as pool:
        pending = [pool.apply_async(worker, argument) for argument in arguments]
        start_line.wait()
        started = time.perf_counter()
        results = [result.get() for result in pending]
        seconds = time.perf_counter() - started
    errors = [error for _, _, worker_errors in results for error in worker_errors]
    if errors:
        sys.exit(f"{len(errors)} attempts failed unexpectedly, e.g. {errors[0]}")
    return seconds, sum(result[0] for result in results), sum(result[1] for result in results)


def _stock_set(stock_by_sku: dict[int, int]) -> None:
    for sku_id, stock in stock_by_sku.items():
        Sku.objects.filter(pk=sku_id).update(stock=stock)


def _oversell(stock_by_sku: dict[int, int], orders_before: int) -> int:
    """Units taken that were not there, or taken without an order to show for it."""
    sold = dict(
        OrderLine.objects.filter(sku_id__in=stock_by_sku, order_id__gt=orders_before)
        .values_list("sku_id")
        .annotate(units=Sum("quantity"))
    )
    oversold = 0
    for sku_id, initial in stock_by_sku.items():
        stock = Sku.objects.get(pk=sku_id).stock
        oversold += max(0, -stock) + abs((initial - stock) - sold.get(sku_id, 0))
    return oversold


def _scenario(name: str, *, attempts: list[list[int]], stock_by_sku: dict[int, int], buyers: list) -> dict:
    _stock_set(stock_by_sku)
    orders_before = Order.objects.order_by("-id").values_list("id", flat=True).first() or 0
    seconds, placed, refused = _run(
        _orders_worker,
        [(customer.pk, address.pk, sku_ids) for (customer, address), sku_ids in zip(buyers, attempts, strict=True)],
    )
    oversell = _oversell(stock_by_sku, orders_before)

    _stock_set(stock_by_sku)
    baseline_seconds, taken, baseline_refused = _run(_updates_worker, [(sku_ids,) for sku_ids in attempts])

    _stock_set(stock_by_sku)
    orders_before = Order.objects.order_by("-id").values_list("id", flat=True).first()
    floor_seconds, floor_placed, _ = _run(
        _one_statement_worker,
        [(customer.pk, address.pk, sku_ids) for (customer, address), sku_ids in zip(buyers, attempts, strict=True)],
    )
    return {
        "name": name,
        "orders_per_second": placed / seconds,
        "placed": placed,
        "refused": refused,
        "oversell": oversell + _oversell(stock_by_sku, orders_before),
        "updates_per_second": taken / baseline_seconds,
        "baseline_refused": baseline_refused,
        "one_statement_per_second": floor_placed / floor_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=16, help="concurrent buyers (processes), one connection each")
    parser.add_argument("--attempts", type=int, default=100, help="orders each buyer tries to place")
    parser.add_argument("--keep", action="store_true", help=f"keep the {DATABASE.name} database afterwards")
    options = parser.parse_args()

    try:
        call_command("migrate", verbosity=0)
        buyers = []
        for _ in range(options.workers):
            customer = CustomerFactory()
            buyers.append((customer, AddressFactory(customer=customer, is_default=True)))
        total = options.workers * options.attempts

        hot = SkuFactory(stock=0)
        spread = [SkuFactory(stock=0) for _ in range(SPREAD_SKUS)]
        picker = random.Random(7)
        results = [
            _scenario(
                "hot SKU",
                attempts=[[hot.pk] * options.attempts for _ in range(options.workers)],
                stock_by_sku={hot.pk: int(total * HOT_STOCK_SHARE)},
                buyers=buyers,
            ),
            _scenario(
                f"{SPREAD_SKUS} SKUs",
                attempts=[[picker.choice(spread).pk for _ in range(options.attempts)] for _ in range(options.workers)],
                stock_by_sku={sku.pk: total for sku in spread},
                buyers=buyers,
            ),
        ]
    finally:
        connections.close_all()
        if not options.keep:
            DATABASE.drop()

    print(
        f"{options.workers} concurrent buyers x {options.attempts} attempts each, PostgreSQL database {DATABASE.name}"
    )
    print(
        f"{'scenario':<10} {'orders/s':>9} {'placed':>7} {'refused':>8} {'oversell':>9} {'baseline/s':>11} "
        f"{'ratio':>6} | {'1-statement/s':>13} {'ratio':>6}"
    )
    for result in results:
        baseline = result["updates_per_second"]
        print(
            f"{result['name']:<10} {result['orders_per_second']:>9.0f} {result['placed']:>7} {result['refused']:>8} "
            f"{result['oversell']:>9} {baseline:>11.0f} {result['orders_per_second'] / baseline:>6.2f} | "
            f"{result['one_statement_per_second']:>13.0f} {result['one_statement_per_second'] / baseline:>6.2f}"
        )
    print("baseline: bare conditional UPDATE ... WHERE stock >= 1 in autocommit through psycopg, same attempts")
    print("1-statement: an order's writes as one SQL statement through psycopg, no application code")
    if any(result["oversell"] for result in results):
        sys.exit("OVERSOLD")


if __name__ == "__main__":
    main()
