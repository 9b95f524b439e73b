"""Order placement under contention, as production runs it, against one-statement orders in the same run.

    DATABASE_URL=postgres://... CACHE_URL=redis://... CELERY_BROKER_URL=amqp://... \\
        .venv/bin/python bench/order_contention.py [--workers 16] [--attempts 100] [--rounds 3] [--record] [--note ...]

Runs on bench/harness.py: production's settings (DEBUG off, the Redis cache, production's database
connection setting) on a database of its own beside DATABASE_URL's (<name>_order_contention_bench,
dropped at the end), and gunicorn on config/gunicorn.py for the HTTP runs, with the floor's endpoint
added to production's URLs (bench/settings.py).

Two scenarios, each attempt buying 1 unit: a hot SKU whose stock covers 80% of the attempts, and
200 SKUs picked at random with stock for all. Seven runs of each, alternating over the rounds:
- order_create: `workers` processes (one database connection each, released at one instant) each
  place `attempts` whole orders through the service (address, prices, snapshots, lines, event,
  an Idempotency-Key), as a Celery task or another caller in Python would;
- POST /api/v1/orders: the same attempts over HTTP through gunicorn, from a load generator in a
  process of its own, `workers` requests at a time, each with its buyer's token and a new key;
- the floor over HTTP: the same requests to an endpoint in the same server (bench/order_floor.py,
  mounted by bench/settings.py) that runs the one-statement reference's SQL for the attempt and
  answers a small JSON: what gunicorn, Django and the middleware cost an order with none of our code;
- floor 2: the same, but the buyer is found from the bearer token inside the same statement and only
  the buyer's own address is taken: the least any correct endpoint must do, still one round trip;
- floor 3: floor 2 from a DRF view (the API's parser, renderer, negotiation and exception handler,
  under /api/): the least a correct endpoint on the API's stack must cost;
- the one-statement reference (the ratios' baseline): the same attempts, `workers` processes at
  once, each order's writes (stock, order with its address copied, line, event) as one SQL statement
  through psycopg with no application code, the most any implementation of an order could reach;
- bare UPDATEs: `UPDATE ... SET stock = stock - 1 WHERE id = %s AND stock >= 1` in autocommit, the
  floor of taking stock, printed for scale.
Then the rush: 200 buyers at once over HTTP, for 50 units of one SKU (exactly 50 orders), and spread
over 200 SKUs (200 orders), alternating; the ratio is the hot p99 latency over the spread one.
Oversell (stock taken beyond what was there, or not matched by orders) must be 0, and PostgreSQL
must count no deadlock; either fails the bench. --record writes the figures to docs/benchmarks.md.
"""

import argparse
import json
import multiprocessing
import random
import secrets
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.harness import (  # noqa: E402 - after the path is set
    PER_SECOND,
    HttpRun,
    LoadGenerator,
    Metric,
    ProductionServer,
    Request,
    bench_services,
    benchmarks_md_record,
    django_setup,
    figures_table,
    interleaved,
    production_environment,
)
from bench.order_floor import ONE_STATEMENT_ORDER  # noqa: E402 - after the path is set

SPREAD_SKUS = 200
HOT_STOCK_SHARE = 0.8
RUSH_BUYERS = 200
RUSH_UNITS = 50

SERVICE = "order_create"
HTTP = "POST /api/v1/orders"
FLOOR = "floor: the reference's SQL over HTTP"
FLOOR_PATH = "/bench/order-floor/"
FLOOR_AUTHENTICATED = "floor 2: + the buyer's token, in the statement"
FLOOR_AUTHENTICATED_PATH = "/bench/order-floor-authenticated/"
FLOOR_DRF = "floor 3: floor 2 through DRF"
FLOOR_DRF_PATH = "/api/bench/order-floor-drf"
REFERENCE = "one-statement reference"
BARE = "bare UPDATEs"
RUSH_HOT = f"{RUSH_BUYERS} buyers, {RUSH_UNITS} units of one SKU"
RUSH_SPREAD = f"{RUSH_BUYERS} buyers over {SPREAD_SKUS} SKUs"
ORDERS_PATH = "/api/v1/orders"
P99_MS = Metric("p99_ms", "ms", lambda run: run.p99_ms)

# Set in the parent before a pool forks, so every worker inherits the same barrier and database URL.
start_line: multiprocessing.Barrier
database_url: str
# Each worker places one order of this SKU before the start: production's connections are kept
# (CONN_MAX_AGE), so a backend has planned the function's statements before a timed order comes.
warm_up_sku: int


@dataclass(frozen=True)
class Buyer:
    customer_id: int
    address_id: int
    token: str


def main() -> None:
    global database_url, warm_up_sku
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=16, help="buyers at once: processes, or HTTP requests")
    parser.add_argument("--attempts", type=int, default=100, help="orders each buyer tries to place, per run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--record", action="store_true", help="write the figures to docs/benchmarks.md")
    parser.add_argument("--keep-database", action="store_true", help="leave the database for inspection")
    parser.add_argument("--note", default="", help="recorded with the figures: what the reader should know of the run")
    options = parser.parse_args()

    with bench_services("order_contention", keep_database=options.keep_database) as services:
        # bench/settings.py: production's, with the floor's endpoint in the URLs gunicorn serves.
        environment = production_environment(services, DJANGO_SETTINGS_MODULE="bench.settings")
        django_setup(environment)
        from catalog.models import Sku

        database_url = services.database.url
        buyers = buyers_make(max(options.workers, RUSH_BUYERS))
        hot, spread, warm_up_sku = skus_make(1)[0], skus_make(SPREAD_SKUS), skus_make(1)[0]
        Sku.objects.filter(pk=warm_up_sku).update(stock=10**9)
        total = options.workers * options.attempts
        picker = random.Random(7)
        scenarios = {
            "hot SKU": Scenario(
                attempts=[[hot] * options.attempts for _ in range(options.workers)],
                stock={hot: int(total * HOT_STOCK_SHARE)},
            ),
            f"{SPREAD_SKUS} SKUs": Scenario(
                attempts=[[picker.choice(spread) for _ in range(options.attempts)] for _ in range(options.workers)],
                stock=dict.fromkeys(spread, total),
            ),
        }
        checks = Checks(database_url=database_url)

        with ProductionServer(environment, log=services.work_dir / "gunicorn.log") as server, LoadGenerator() as load:
            http = HttpOrders(load=load, url=server.url, buyers=buyers, concurrency=options.workers)
            floor = HttpOrders(load=load, url=server.url, buyers=buyers, concurrency=options.workers, path=FLOOR_PATH)
            floor_authenticated = HttpOrders(
                load=load, url=server.url, buyers=buyers, concurrency=options.workers, path=FLOOR_AUTHENTICATED_PATH
            )
            floor_drf = HttpOrders(
                load=load, url=server.url, buyers=buyers, concurrency=options.workers, path=FLOOR_DRF_PATH
            )
            for orders in (http, floor, floor_authenticated, floor_drf):
                orders.warm_up(spread[0])
            for orders in (http, floor_authenticated, floor_drf):
                orders.stranger_refused(spread[0])
            tables = {}
            for name, scenario in scenarios.items():
                print(f"{name}: {options.rounds} rounds of {total:,} attempts, {options.workers} at a time", flush=True)
                results = interleaved(
                    {
                        SERVICE: lambda _, scenario=scenario: checks.orders(
                            scenario, lambda: _in_processes(_service_worker, scenario.by_buyer(buyers))
                        ),
                        HTTP: lambda _, scenario=scenario: checks.orders(scenario, lambda: http.place(scenario)),
                        FLOOR: lambda _, scenario=scenario: checks.orders(scenario, lambda: floor.place(scenario)),
                        FLOOR_AUTHENTICATED: lambda _, scenario=scenario: checks.orders(
                            scenario, lambda: floor_authenticated.place(scenario)
                        ),
                        FLOOR_DRF: lambda _, scenario=scenario: checks.orders(
                            scenario, lambda: floor_drf.place(scenario)
                        ),
                        REFERENCE: lambda _, scenario=scenario: checks.orders(
                            scenario, lambda: _in_processes(_one_statement_worker, scenario.by_buyer(buyers))
                        ),
                        BARE: lambda _, scenario=scenario: checks.updates(
                            scenario, lambda: _in_processes(_updates_worker, [(skus,) for skus in scenario.attempts])
                        ),
                    },
                    rounds=options.rounds,
                )
                tables[name] = figures_table(results, baseline=REFERENCE, metric=PER_SECOND)

            print(f"the rush: {RUSH_BUYERS} buyers at once, {options.rounds} rounds", flush=True)
            rush_hot = Scenario(attempts=[[hot] for _ in range(RUSH_BUYERS)], stock={hot: RUSH_UNITS})
            rush_spread = Scenario(attempts=[[sku] for sku in spread[:RUSH_BUYERS]], stock=dict.fromkeys(spread, 1))
            rush_http = HttpOrders(load=load, url=server.url, buyers=buyers, concurrency=RUSH_BUYERS)
            rush = interleaved(
                {
                    RUSH_SPREAD: lambda _: checks.orders(rush_spread, lambda: rush_http.place(rush_spread)),
                    RUSH_HOT: lambda _: checks.orders(rush_hot, lambda: rush_http.place(rush_hot)),
                },
                rounds=options.rounds,
            )
            tables["the rush over HTTP"] = figures_table(rush, baseline=RUSH_SPREAD, metric=P99_MS)
            settings_line = (
                f"{server.settings_line}; {options.workers} buyers at once × {options.attempts} attempts each a run"
            )

        rush_placed = sorted({run.statuses.count(201) for run in rush[RUSH_HOT]})
        verdicts = [
            *(
                _verdict(f"{name}: order_create ≥ 0.5 of the reference", table.ratio(SERVICE), at_least=0.5)
                for name, table in list(tables.items())[:2]
            ),
            *(
                _verdict(f"{name}: POST /api/v1/orders ≥ 0.3 of the reference", table.ratio(HTTP), at_least=0.3)
                for name, table in list(tables.items())[:2]
            ),
            *(_floors_verdict(name, table) for name, table in list(tables.items())[:2]),
            _verdict("the rush: hot p99 ≤ 3× the spread p99", tables["the rush over HTTP"].ratio(RUSH_HOT), at_most=3),
            f"the rush: {' or '.join(map(str, rush_placed))} orders for {RUSH_UNITS} units in every round",
            f"oversell {checks.oversold}, deadlocks {checks.deadlocks()}, unexpected answers {checks.unexpected}",
        ]
        print(f"\n{settings_line}")
        for title, table in tables.items():
            print(f"\n{title}\n{table.text()}")
        print("\n" + "\n".join(verdicts))
        correct = (
            checks.oversold == 0 and checks.deadlocks() == 0 and not checks.unexpected and rush_placed == [RUSH_UNITS]
        )
        if options.record:
            benchmarks_md_record(
                bench="order_contention",
                tables=tables,
                settings=settings_line,
                notes=f"{'; '.join(verdicts)}. {options.note}".strip(),
            )
        if not correct:
            sys.exit("FAILED: oversold, deadlocked, or answered unexpectedly (above)")


def _floors_verdict(name: str, table) -> str:
    """How far the floors reach, and so whether 0.3 over HTTP is ours to reach, by their medians."""
    reach = (
        "within reach of a DRF endpoint, so what the product adds above floor 3 is ours to cut"
        if table.ratio(FLOOR_DRF) >= 0.3
        else "below 0.3 already at floor 3, so no endpoint on the API's DRF stack meets the aim"
    )
    return (
        f"{name}: over HTTP the floor reaches {table.ratio(FLOOR):.2f} of the reference, floor 2 "
        f"{table.ratio(FLOOR_AUTHENTICATED):.2f}, floor 3 {table.ratio(FLOOR_DRF):.2f}: {reach}; "
        f"POST /api/v1/orders is {table.ratio(HTTP) / table.ratio(FLOOR_DRF):.2f} of floor 3"
    )


def _verdict(what: str, ratio: float, *, at_least: float | None = None, at_most: float | None = None) -> str:
    met = ratio >= at_least if at_least is not None else ratio <= at_most
    return f"{what}: {ratio:.2f}, {'met' if met else 'NOT met'}"


# --- the data ---------------------------------------------------------------------------------


def buyers_make(count: int) -> list[Buyer]:
    """Customers with a default address and a live API token each, as a login leaves them."""
    from django.utils import timezone

    from customers.models import CustomerToken
    from tests.factories import AddressFactory, CustomerFactory

    buyers = []
    for _ in range(count):
        customer = CustomerFactory()
        token = secrets.token_urlsafe(32)
        CustomerToken.objects.create(
            customer=customer, key_digest=CustomerToken.digest(token), expires_at=timezone.now() + timedelta(days=1)
        )
        buyers.append(Buyer(customer.pk, AddressFactory(customer=customer, is_default=True).pk, token))
    return buyers


def skus_make(count: int) -> list[int]:
    from tests.factories import ProductImageFactory, SkuFactory

    skus = [SkuFactory(stock=0) for _ in range(count)]
    for sku in skus:
        ProductImageFactory(product=sku.product, thumbnails=False)  # a main image, copied onto each line
    return [sku.pk for sku in skus]


@dataclass(frozen=True)
class Scenario:
    attempts: list[list[int]]  # per buyer, the SKU of each attempt
    stock: dict[int, int]  # each SKU's stock as a run starts

    def by_buyer(self, buyers: list[Buyer]) -> list[tuple]:
        return [(buyer, skus) for buyer, skus in zip(buyers, self.attempts, strict=False)]


# --- the runs, each checked -------------------------------------------------------------------


class Checks:
    """Stock reset before each run; after it, oversell and the answers counted."""

    def __init__(self, *, database_url: str):
        self.database_url = database_url
        self.oversold = 0
        self.unexpected = 0
        self._deadlocks_before = self._deadlocks_counted()

    def orders(self, scenario: Scenario, run) -> HttpRun:
        from orders.models import Order

        self._stock_set(scenario.stock)
        orders_before = Order.objects.order_by("-id").values_list("id", flat=True).first() or 0
        result = run()
        self.oversold += self._oversell(scenario.stock, orders_before)
        self.unexpected += sum(status not in {201, 409} for status in result.statuses)
        return result

    def updates(self, scenario: Scenario, run) -> HttpRun:
        from catalog.models import Sku

        self._stock_set(scenario.stock)
        result = run()
        taken = result.statuses.count(201)
        left = dict(Sku.objects.filter(pk__in=scenario.stock).values_list("pk", "stock"))
        self.oversold += abs(sum(scenario.stock.values()) - sum(left.values()) - taken)
        self.oversold += sum(max(0, -stock) for stock in left.values())
        return result

    def deadlocks(self) -> int:
        return self._deadlocks_counted() - self._deadlocks_before

    def _deadlocks_counted(self) -> int:
        with psycopg.connect(self.database_url, autocommit=True) as database:
            return database.execute(
                "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
            ).fetchone()[0]

    @staticmethod
    def _stock_set(stock: dict[int, int]) -> None:
        from catalog.models import Sku

        for sku_id, units in stock.items():
            Sku.objects.filter(pk=sku_id).update(stock=units)

    @staticmethod
    def _oversell(stock: dict[int, int], orders_before: int) -> int:
        """Units taken that were not there, or taken without an order to show for it."""
        from django.db.models import Sum

        from catalog.models import Sku
        from orders.models import OrderLine

        sold = dict(
            OrderLine.objects.filter(sku_id__in=stock, order_id__gt=orders_before)
            .values_list("sku_id")
            .annotate(units=Sum("quantity"))
        )
        left = dict(Sku.objects.filter(pk__in=stock).values_list("pk", "stock"))
        return sum(
            max(0, -left[sku_id]) + abs((initial - left[sku_id]) - sold.get(sku_id, 0))
            for sku_id, initial in stock.items()
        )


class HttpOrders:
    """POST /api/v1/orders from the load generator, each request one buyer's, with a new Idempotency-Key."""

    def __init__(self, *, load: LoadGenerator, url: str, buyers: list[Buyer], concurrency: int, path=ORDERS_PATH):
        self.load, self.url, self.buyers, self.concurrency, self.path = load, url, buyers, concurrency, path

    def place(self, scenario: Scenario) -> HttpRun:
        # Round-robin over the buyers, so `concurrency` requests in flight are `concurrency` buyers'.
        requests = [
            self._request(self.buyers[index], sku)
            for attempt in range(max(len(skus) for skus in scenario.attempts))
            for index, skus in enumerate(scenario.attempts)
            if attempt < len(skus)
            for sku in [skus[attempt]]
        ]
        return self.load.run(self.url, requests, concurrency=self.concurrency)

    def warm_up(self, sku_id: int) -> None:
        """Every gunicorn worker and thread has served an order before the timed runs."""
        from catalog.models import Sku

        Sku.objects.filter(pk=sku_id).update(stock=10**6)
        self.load.run(self.url, [self._request(buyer, sku_id) for buyer in self.buyers], concurrency=self.concurrency)

    def stranger_refused(self, sku_id: int) -> None:
        """An unknown token, or a buyer naming another's address, places nothing (floors 2 and 3 are correct)."""
        from catalog.models import Sku

        stock = Sku.objects.get(pk=sku_id).stock
        stranger = Buyer(customer_id=0, address_id=self.buyers[0].address_id, token="unknown")
        other_address = Buyer(self.buyers[1].customer_id, self.buyers[0].address_id, self.buyers[1].token)
        run = self.load.run(
            self.url, [self._request(stranger, sku_id), self._request(other_address, sku_id)], concurrency=1
        )
        if 201 in run.statuses or Sku.objects.get(pk=sku_id).stock != stock:
            sys.exit(f"FAILED: {self.path} placed an order for a stranger: {run.statuses}")

    def _request(self, buyer: Buyer, sku_id: int) -> Request:
        body = {"items": [{"sku_id": sku_id, "quantity": 1}], "address_id": buyer.address_id}
        headers = {
            "Authorization": f"Bearer {buyer.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
        }
        return Request("POST", self.path, json.dumps(body).encode(), headers)


# --- service-level runs: processes, one database connection each, released together ------------


def _in_processes(worker, arguments: list[tuple]) -> HttpRun:
    """Run `worker` once per argument tuple, each in its own process, released together."""
    global start_line
    from django.db import connections

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
    return HttpRun(
        seconds=seconds,
        latencies=[latency for latencies, _, _ in results for latency in latencies],
        statuses=[status for _, statuses, _ in results for status in statuses],
        answers=[],
    )


def _service_worker(buyer: Buyer, sku_ids: list[int]) -> tuple[list[float], list[int], list[str]]:
    from django.db import connection

    from customers.models import Customer
    from orders.exceptions import InsufficientStock
    from orders.services.placement import order_create

    customer = Customer.objects.get(pk=buyer.customer_id)

    def place(sku_id: int) -> None:
        order_create(
            customer=customer,
            address_id=buyer.address_id,
            items=[{"sku_id": sku_id, "quantity": 1}],
            idempotency_key=uuid.uuid4().hex,
        )

    place(warm_up_sku)
    latencies, statuses, errors = [], [], []
    start_line.wait()
    for sku_id in sku_ids:
        started = time.perf_counter()
        try:
            place(sku_id)
            statuses.append(201)
        except InsufficientStock:
            statuses.append(409)
        except Exception as error:  # noqa: BLE001 - reported, and fails the bench
            errors.append(repr(error))
        latencies.append(time.perf_counter() - started)
    connection.close()
    return latencies, statuses, errors


def _one_statement_worker(buyer: Buyer, sku_ids: list[int]) -> tuple[list[float], list[int], list[str]]:
    latencies, statuses = [], []
    with psycopg.connect(database_url, autocommit=True) as database:

        def place(sku_id: int) -> bool:
            return (
                database.execute(
                    ONE_STATEMENT_ORDER,
                    {
                        "sku_id": sku_id,
                        "address_id": buyer.address_id,
                        "order_no": uuid.uuid4().hex,
                        "idempotency_key": uuid.uuid4().hex,
                    },
                ).fetchone()
                is not None
            )

        place(warm_up_sku)
        start_line.wait()
        for sku_id in sku_ids:
            started = time.perf_counter()
            statuses.append(201 if place(sku_id) else 409)
            latencies.append(time.perf_counter() - started)
    return latencies, statuses, []


def _updates_worker(sku_ids: list[int]) -> tuple[list[float], list[int], list[str]]:
    latencies, statuses = [], []
    with psycopg.connect(database_url, autocommit=True) as database:
        start_line.wait()
        for sku_id in sku_ids:
            started = time.perf_counter()
            cursor = database.execute(
                "UPDATE catalog_sku SET stock = stock - 1 WHERE id = %s AND stock >= 1", (sku_id,)
            )
            statuses.append(201 if cursor.rowcount == 1 else 409)
            latencies.append(time.perf_counter() - started)
    return latencies, statuses, []


if __name__ == "__main__":
    main()
