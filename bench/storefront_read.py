"""Storefront reads under gunicorn against prebuilt answers from the same server: one URL, and a realistic mix.

    DATABASE_URL=postgres://... CACHE_URL=redis://... CELERY_BROKER_URL=amqp://... \\
        .venv/bin/python bench/storefront_read.py [--products 10000] [--variants 2000] [--requests 8000]
        [--orders-per-second 5] [--concurrency 16] [--rounds 3] [--quick] [--record --note "..."]

Runs on bench/harness.py: gunicorn on config/gunicorn.py, DEBUG off, production's database
connection setting and the Redis cache, on a database of its own beside DATABASE_URL's
(<name>_storefront_read_bench, dropped at the end), with bench/storefront_settings.py: production's
settings plus one baseline endpoint (bench/storefront_urls.py) that answers, for each URL a run
reads, that URL's own body captured beforehand from the same server, as prebuilt bytes: the same
Django stack, middleware and bytes on the wire, without queries, serialization or caches.

It loads a catalog of --products products (three SKUs and an image each, in a tree of 10
categories of 5 subcategories), then, with a load generator in its own process sending
--requests requests --concurrency at a time:
- single URL (the best case): the first page of /api/v1/catalog/products (newest, 20), the page a
  Mini Program opens on, answered from the caches once the first read has filled them;
- realistic: three reads in four over --variants list URLs the API contract allows (a category or
  none × in stock, out of stock, a price range, a keyword or no filter × the five orderings × page
  sizes 20, 10 and 50; a quarter of them second or third pages, followed through `next` cursors),
  one in four a product detail picked at random from 2,000 products (or all, if fewer), while a
  writer process places orders at --orders-per-second through POST /api/v1/orders for SKUs of
  those products, each order taking stock and so invalidating its product's cached detail, as
  real orders do. The writer runs through the realistic baseline's runs too, so both share the
  server with the same orders.
Each has its baseline: the same sequence of URLs answered by the baseline endpoint. The four runs
alternate over --rounds rounds; each ratio is the median of the rounds' requests/s over their
baseline's (aims, issue 19: realistic ≥ 0.5, single URL ≥ 0.6). Every answer must be a 200, every
order a 201. --quick is a small catalog and few requests, for tests: seconds, not figures.
"""

import argparse
import http.client
import io
import json
import multiprocessing
import random
import secrets
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlparse

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.harness import (  # noqa: E402 - after the path is set
    PER_SECOND,
    PROXY_HEADERS,
    BenchServices,
    HttpRun,
    LoadGenerator,
    ProductionServer,
    Request,
    bench_services,
    benchmarks_md_record,
    django_setup,
    figures_table,
    interleaved,
    production_environment,
)

SKUS_PER_PRODUCT = 3
ROOT_CATEGORIES = ["茶与茶具", "餐厨", "家居", "文具", "服饰", "食品", "个护", "数码", "户外", "母婴"]
SUBCATEGORIES_PER_ROOT = 5
TITLE_WORDS = (
    ["景德镇", "汝窑", "楠竹", "新疆", "云南", "手作", "北欧", "日式", "复古", "极简"],
    ["陶瓷", "玻璃", "长绒棉", "实木", "不锈钢", "亚麻", "真丝", "紫砂", "黄铜", "羊毛"],
    ["马克杯", "茶具套装", "砧板", "四件套", "茶饼", "花瓶", "餐盘", "围巾", "台灯", "收纳盒"],
)
LIST_PATH = "/api/v1/catalog/products"
FILTERS = [
    {},
    {"in_stock": "true"},
    {"in_stock": "false"},
    {"price_min": "2000", "price_max": "30000"},
    {"price_min": "50000"},
    {"q": "陶瓷"},
    {"q": "景德镇手作"},
]
ORDERINGS = [None, "price", "-price", "sales", "-sales"]
PAGE_SIZES = [None, 10, 50]
DETAIL_SAMPLE = 2_000
DETAIL_SHARE = 0.25
NEXT_PAGE_SHARE = 0.25
BUYERS = 20
SINGLE_BASELINE, SINGLE = "baseline: single URL, prebuilt", "single URL (list, first page)"
REALISTIC_BASELINE, REALISTIC = "baseline: realistic, prebuilt", "realistic: lists, details, orders"
QUICK = {"products": 300, "variants": 150, "requests": 300, "details": 100}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--variants", type=int, default=2_000, help="distinct list URLs in the realistic run")
    parser.add_argument("--requests", type=int, default=8_000, help="per run")
    parser.add_argument("--orders-per-second", type=float, default=5, help="the writer's rate in realistic runs")
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help=f"{QUICK}: for tests, seconds")
    parser.add_argument("--record", action="store_true", help="write the figures to docs/benchmarks.md")
    parser.add_argument("--note", default="", help="recorded with the figures: what the reader should know of the run")
    parser.add_argument("--keep-database", action="store_true", help="leave the database for inspection")
    options = parser.parse_args()
    details_wanted = DETAIL_SAMPLE
    if options.quick:
        options.products, options.variants, options.requests = QUICK["products"], QUICK["variants"], QUICK["requests"]
        details_wanted = QUICK["details"]

    with bench_services("storefront_read", keep_database=options.keep_database) as services:
        environment = bench_environment(services)
        django_setup(environment)
        print(f"loading {options.products:,} products ...", flush=True)
        product_ids = catalog_load(product_count=options.products)
        picker = random.Random(7)
        detail_ids = picker.sample(product_ids, min(details_wanted, len(product_ids)))
        order_skus = skus_for_orders(detail_ids)
        buyers = buyers_make(BUYERS)
        baseline_dir = Path(environment["BENCH_BASELINE_DIR"])

        with ProductionServer(environment, log=services.work_dir / "gunicorn.log") as server, LoadGenerator() as load:
            capture = BodyCapture(server.url, baseline_dir)
            single = [LIST_PATH]
            capture.body(LIST_PATH)
            print(f"capturing the answers of {options.variants:,} list URLs ...", flush=True)
            variants = list_variants(capture, options.variants, picker)
            details = [f"{LIST_PATH}/{product_id}" for product_id in detail_ids]
            for path in details:
                capture.body(path)  # also read once, as a running shop has read its products since they changed
            capture.index_write()

            def mixed(round_number: int) -> list[str]:
                chooser = random.Random(1000 + round_number)
                return [
                    chooser.choice(details) if chooser.random() < DETAIL_SHARE else chooser.choice(variants)
                    for _ in range(options.requests)
                ]

            def reads(paths: list[str], *, baseline: bool) -> list[Request]:
                return [Request("GET", capture.baseline_path(path) if baseline else path) for path in paths]

            def run(paths: list[str], *, baseline: bool, with_orders: bool) -> HttpRun:
                writer = OrderWriter(server.url, buyers, order_skus, options.orders_per_second) if with_orders else None
                try:
                    result = load.run(server.url, reads(paths, baseline=baseline), concurrency=options.concurrency)
                finally:
                    if writer:
                        writer.stop()
                failed = sorted({status for status in result.statuses if status != 200})
                if failed:
                    sys.exit(f"FAILED: answers {failed}; e.g. {result.answers[result.statuses.index(failed[0])][:300]}")
                return result

            # Every worker and thread has served each kind, the baseline has loaded its bodies.
            for baseline in (False, True):
                load.run(server.url, reads(mixed(-1)[:500], baseline=baseline), concurrency=options.concurrency)
                load.run(server.url, reads(single * 200, baseline=baseline), concurrency=options.concurrency)
            print(
                f"{options.rounds} interleaved rounds of {options.requests:,} requests a run, "
                f"{options.concurrency} at a time ...",
                flush=True,
            )
            results = interleaved(
                {
                    SINGLE_BASELINE: lambda _: run(single * options.requests, baseline=True, with_orders=False),
                    SINGLE: lambda _: run(single * options.requests, baseline=False, with_orders=False),
                    REALISTIC_BASELINE: lambda r: run(mixed(r), baseline=True, with_orders=True),
                    REALISTIC: lambda r: run(mixed(r), baseline=False, with_orders=True),
                },
                rounds=options.rounds,
            )
            settings_line = server.settings_line
            orders = OrderWriter.totals()
        if orders["failed"]:
            sys.exit(f"FAILED: {orders['failed']} of {orders['placed'] + orders['failed']} orders not placed")
        tables = {
            "single URL": figures_table(
                {label: results[label] for label in (SINGLE_BASELINE, SINGLE)},
                baseline=SINGLE_BASELINE,
                metric=PER_SECOND,
            ),
            "realistic": figures_table(
                {label: results[label] for label in (REALISTIC_BASELINE, REALISTIC)},
                baseline=REALISTIC_BASELINE,
                metric=PER_SECOND,
            ),
        }
        settings_line = (
            f"{settings_line}; {options.products:,} products; {options.requests:,} requests a run, "
            f"{options.concurrency} at a time; realistic: {len(variants):,} list URLs and {len(details):,} details "
            f"({DETAIL_SHARE:.0%} of reads), orders at {options.orders_per_second:g}/s during both realistic runs"
        )
        print(f"\n{settings_line}")
        for title, table in tables.items():
            print(f"\n{title}:\n{table.text()}")
        realistic, single_ratio = tables["realistic"].ratio(REALISTIC), tables["single URL"].ratio(SINGLE)
        summary = (
            f"realistic / baseline: {realistic:.2f} (aim ≥ 0.5); single URL / baseline: {single_ratio:.2f} "
            f"(aim ≥ 0.6); orders placed during the realistic runs: {orders['placed']:,}, all 201"
        )
        print(f"\n{summary}")
        if options.record:
            benchmarks_md_record(
                bench="storefront_read",
                tables=tables,
                settings=settings_line,
                notes=f"{summary}. {options.note}".strip(),
            )


def bench_environment(services: BenchServices) -> dict[str, str]:
    """Production's environment, with the baseline endpoint's URLconf and where it finds its bodies."""
    return production_environment(
        services,
        DJANGO_SETTINGS_MODULE="bench.storefront_settings",
        BENCH_BASELINE_DIR=str(services.work_dir / "baseline"),
    )


class BodyCapture:
    """Each URL's answer read once from the server, saved as the baseline's body for it under a number."""

    def __init__(self, base_url: str, folder: Path):
        address = urlparse(base_url)
        self.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.numbers: dict[str, int] = {}

    def body(self, path: str) -> bytes:
        self.connection.request("GET", path, headers=PROXY_HEADERS)
        answer = self.connection.getresponse()
        content = answer.read()
        if answer.status != 200:
            sys.exit(f"{path} answered {answer.status}: {content[:300]}")
        if path not in self.numbers:
            self.numbers[path] = len(self.numbers)
            (self.folder / f"{self.numbers[path]}.json").write_bytes(content)
        return content

    def baseline_path(self, path: str) -> str:
        return f"/bench/baseline/{self.numbers[path]}"

    def index_write(self) -> None:
        (self.folder / "index.json").write_text(json.dumps(self.numbers))


def list_variants(capture: BodyCapture, wanted: int, picker: random.Random) -> list[str]:
    """`wanted` distinct list URLs: first pages of shuffled filter combinations, some followed to a next page."""
    from catalog.models import Category

    categories = [None, *Category.objects.order_by("pk").values_list("pk", flat=True)]
    combinations = [
        (category, filters, ordering, page_size)
        for category in categories
        for filters in FILTERS
        for ordering in ORDERINGS
        for page_size in PAGE_SIZES
    ]
    picker.shuffle(combinations)
    variants: list[str] = []
    for category, filters, ordering, page_size in combinations:
        if len(variants) >= wanted:
            break
        query = {
            **({"category": category} if category else {}),
            **filters,
            **({"ordering": ordering} if ordering else {}),
            **({"page_size": page_size} if page_size else {}),
        }
        path = f"{LIST_PATH}?{urlencode(query)}" if query else LIST_PATH
        if path in capture.numbers:
            continue
        variants.append(path)
        answer = json.loads(capture.body(path))
        # A quarter go on to their second page, and some of those to their third.
        while answer.get("next") and len(variants) < wanted and picker.random() < NEXT_PAGE_SHARE * 2:
            address = urlparse(answer["next"])
            path = f"{address.path}?{address.query}"
            variants.append(path)
            answer = json.loads(capture.body(path))
    if len(variants) < wanted:
        sys.exit(f"only {len(variants)} list URLs from {len(combinations)} combinations: fewer --variants")
    return variants


def skus_for_orders(product_ids: list[int]) -> list[int]:
    """One active SKU of each product whose detail the realistic run reads, stocked for every order."""
    from catalog.models import Sku

    skus = []
    for product_id in product_ids:
        sku = Sku.objects.filter(product_id=product_id, is_active=True).order_by("pk").first()
        if sku:
            skus.append(sku.pk)
    Sku.objects.filter(pk__in=skus).update(stock=10**6)
    from catalog.services import product_display_prices_refresh

    product_display_prices_refresh(product_ids=product_ids)
    return skus


def buyers_make(count: int) -> list[tuple[int, str]]:
    """(address id, token): customers with a default address and a live API token each, as a login leaves them."""
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
        buyers.append((AddressFactory(customer=customer, is_default=True).pk, token))
    return buyers


class OrderWriter:
    """A process of its own placing orders through POST /api/v1/orders at a steady rate until stopped."""

    _totals = {"placed": 0, "failed": 0}

    def __init__(self, base_url: str, buyers: list[tuple[int, str]], sku_ids: list[int], per_second: float):
        context = multiprocessing.get_context("spawn")
        self._stop, ready = context.Event(), context.Event()
        self._counts = context.Queue()
        self._process = context.Process(
            target=_orders_place, args=(base_url, buyers, sku_ids, per_second, self._stop, ready, self._counts)
        )
        self._process.start()
        # The reads start once orders are being placed: a short run would otherwise see none.
        if not ready.wait(timeout=60):
            sys.exit("the order writer placed no order within 60 s")

    def stop(self) -> None:
        self._stop.set()
        placed, failed = self._counts.get(timeout=120)
        self._process.join(timeout=30)
        OrderWriter._totals["placed"] += placed
        OrderWriter._totals["failed"] += failed

    @classmethod
    def totals(cls) -> dict[str, int]:
        return dict(cls._totals)


def _orders_place(base_url, buyers, sku_ids, per_second, stop, ready, counts) -> None:
    """In the writer's process: one order every 1/per_second seconds, on schedule, each a buyer's in turn."""
    address = urlparse(base_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    picker = random.Random()
    placed = failed = 0
    interval = 1 / per_second
    next_at = time.monotonic()
    while not stop.is_set():
        address_id, token = buyers[(placed + failed) % len(buyers)]
        body = json.dumps(
            {"items": [{"sku_id": picker.choice(sku_ids), "quantity": 1}], "address_id": address_id}
        ).encode()
        headers = {
            **PROXY_HEADERS,
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Idempotency-Key": uuid.uuid4().hex,
        }
        try:
            connection.request("POST", "/api/v1/orders", body=body, headers=headers)
            answer = connection.getresponse()
            answer.read()
            placed, failed = (placed + 1, failed) if answer.status == 201 else (placed, failed + 1)
        except (http.client.HTTPException, OSError):
            connection.close()
            failed += 1
        ready.set()
        next_at += interval
        stop.wait(max(0.0, next_at - time.monotonic()))
    counts.put((placed, failed))


def catalog_load(*, product_count: int) -> list[int]:
    """A category tree, products with three SKUs each and one image (files shared), in bulk; returns product ids."""
    from django.core.files.base import ContentFile
    from django.db import connection
    from PIL import Image

    from catalog.models import Category, Product, ProductImage, Sku
    from catalog.services import product_display_prices_refresh, product_image_create

    randomness = random.Random(7)
    leaves = []
    for root_number, root_name in enumerate(ROOT_CATEGORIES):
        root = Category.objects.add_root(
            create_kwargs={"name": root_name, "slug": f"c{root_number}", "position": root_number}
        )
        for child_number in range(SUBCATEGORIES_PER_ROOT):
            leaves.append(
                Category.objects.add_child(
                    root,
                    create_kwargs={
                        "name": f"{root_name}{child_number}",
                        "slug": f"c{root_number}-{child_number}",
                        "position": child_number,
                    },
                )
            )
    products = Product.objects.bulk_create(
        [
            Product(
                category=randomness.choice(leaves),
                title="".join(randomness.choice(words) for words in TITLE_WORDS) + f" {number}",
                subtitle="匠人手作，限量发售",
                description="<p>景德镇匠人手工拉坯，釉面温润。</p>",
                sales_count=randomness.randrange(0, 5000),
            )
            for number in range(product_count)
        ],
        batch_size=2000,
    )
    skus = []
    for product in products:
        for number in range(SKUS_PER_PRODUCT):
            price_fen = randomness.randrange(990, 99900, 10)
            skus.append(
                Sku(
                    product=product,
                    code=f"P{product.pk}-{number}",
                    specs={"颜色": ["月白", "青瓷", "墨黑"][number]},
                    price_fen=price_fen,
                    list_price_fen=price_fen + 1000 if number == 0 else None,
                    stock=randomness.choice([0, 5, 20, 100]),
                    is_active=number != 2 or randomness.random() < 0.5,
                )
            )
    Sku.objects.bulk_create(skus, batch_size=5000)
    product_display_prices_refresh(product_ids=[product.pk for product in products])

    # One real upload with its thumbnails; every product's image row points at the same files.
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 1200), "#3d7ea6").save(buffer, format="JPEG")
    template = product_image_create(product=products[0], image=ContentFile(buffer.getvalue(), name="product.jpg"))
    ProductImage.objects.bulk_create(
        [
            ProductImage(
                product=product,
                image=template.image.name,
                list_thumbnail=template.list_thumbnail.name,
                detail_thumbnail=template.detail_thumbnail.name,
            )
            for product in products[1:]
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        # Spread creation times so "newest" has an order to follow.
        cursor.execute("UPDATE catalog_product SET created_at = now() - id * interval '1 minute'")
        cursor.execute("ANALYZE")
    return [product.pk for product in products]


if __name__ == "__main__":
    main()
