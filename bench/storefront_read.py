"""Storefront reads under load against a baseline in the same server, measured in one run.

    .venv/bin/python bench/storefront_read.py [--products 10000] [--seconds 10] [--connections 32]

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/bench_storefront;
the database is dropped and created afresh), Redis for the cache every worker shares, as in
production (BENCH_CACHE_URL, default redis://127.0.0.1:6379/14, flushed) and wrk (Debian:
apt-get install -y wrk).

It loads a catalog of --products products (three SKUs and an image each, in a
category tree), starts the app under gunicorn with production settings, and
drives each storefront read with wrk at --connections connections:
- list: the first page (newest, 20 products), the page a Mini Program opens on;
- filtered list: a category with its subcategories, in stock, cheapest first;
- detail: products picked at random from the whole catalog.
The baseline for each is an endpoint in the same server that answers that
read's own body, captured beforehand, as prebuilt bytes: the same Django stack,
middleware and bytes on the wire, without queries or serialization. The ratio
is our requests/s over the baseline's, twice: as deployed (a repeated list read
is answered from the caches for its max-age, a detail read until its product
changes) and with the cache switched off, so every read queries and serializes.
Before the timed runs each detail path is read once, as a running shop has
read its products since they last changed; lists warm up in wrk's first 2 s.
"""

import argparse
import io
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
import redis
import requests

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_storefront"
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/14"
READS = ["list", "filtered list", "detail"]
SKUS_PER_PRODUCT = 3
ROOT_CATEGORIES = ["茶与茶具", "餐厨", "家居", "文具", "服饰", "食品", "个护", "数码", "户外", "母婴"]
SUBCATEGORIES_PER_ROOT = 5
TITLE_WORDS = (
    ["景德镇", "汝窑", "楠竹", "新疆", "云南", "手作", "北欧", "日式", "复古", "极简"],
    ["陶瓷", "玻璃", "长绒棉", "实木", "不锈钢", "亚麻", "真丝", "紫砂", "黄铜", "羊毛"],
    ["马克杯", "茶具套装", "砧板", "四件套", "茶饼", "花瓶", "餐盘", "围巾", "台灯", "收纳盒"],
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=5, help="per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved runs of each read and its baseline")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn workers")
    parser.add_argument("--keep-database", action="store_true", help="leave bench_storefront for inspection")
    parser.add_argument("--reads", nargs="+", choices=READS, default=READS, help="which reads to drive")
    options = parser.parse_args()

    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install -y wrk")

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    database_recreate(database_url)
    redis.Redis.from_url(os.environ.get("BENCH_CACHE_URL", DEFAULT_CACHE_URL)).flushdb()  # no answers from a past run
    work_dir = Path(tempfile.mkdtemp(prefix="bench-storefront-"))
    port = free_port()
    environment = bench_environment(database_url=database_url, work_dir=work_dir)
    os.environ.update(environment)

    import django

    django.setup()
    from django.core.management import call_command

    print(f"loading {options.products:,} products into {urlparse(database_url).path[1:]} ...", flush=True)
    call_command("migrate", verbosity=0)
    product_ids = catalog_load(product_count=options.products)

    host = f"127.0.0.1:{port}"
    scenarios = {
        "list": ["/api/v1/catalog/products"],
        "filtered list": [filtered_list_path()],
        "detail": [f"/api/v1/catalog/products/{product_id}" for product_id in random.sample(product_ids, 2000)],
    }
    scenarios = {name: paths for name, paths in scenarios.items() if name in options.reads}
    bodies = capture_bodies(host=host, scenarios=scenarios, baseline_dir=work_dir / "baseline")

    servers = {
        cache_mode: start_gunicorn(
            port=port,
            workers=options.workers,
            environment={**environment, "BENCH_RESPONSE_CACHE": cache_mode},
            log=work_dir / f"gunicorn-{cache_mode}.log",
        )
        for cache_mode, port in {"on": port, "off": free_port()}.items()
    }
    urls = {cache_mode: f"http://127.0.0.1:{server.port}" for cache_mode, server in servers.items()}
    try:
        for cache_mode, server in servers.items():
            wait_until_serving(f"{urls[cache_mode]}/api/v1/catalog/categories", server)
        with requests.Session() as session:
            del session.headers["Accept"]  # as wrk sends it
            for path in scenarios.get("detail", []):
                session.get(urls["on"] + path, timeout=10).raise_for_status()
        print(
            f"gunicorn {options.workers} workers, wrk {options.connections} connections, "
            f"{options.rounds} interleaved rounds of {options.seconds} s, medians; latencies in ms\n"
            "  cached: as deployed, lists kept for 15 s, details until their product changes (each read once first)\n"
            "  uncached: the cache switched off, every read queries and serializes\n",
            flush=True,
        )
        print(
            f"{'read':<14} {'bytes':>6} | {'baseline req/s':>14} {'p50':>6} {'p99':>6} |"
            f" {'cached req/s':>12} {'p50':>6} {'p99':>6} {'ratio':>5} |"
            f" {'uncached req/s':>14} {'p50':>6} {'p99':>6} {'ratio':>5}"
        )
        for name, paths in scenarios.items():
            runs = {
                "baseline": (urls["on"], [f"/bench/baseline/{slug(name)}"]),
                "cached": (urls["on"], paths),
                "uncached": (urls["off"], paths),
            }
            # Interleaved rounds, so a change in the machine's load falls on all three alike.
            results = {label: [] for label in runs}
            for _ in range(options.rounds):
                for label, (url, run_paths) in runs.items():
                    results[label].append(wrk_run(url=url, paths=run_paths, options=options, script_dir=work_dir))
            baseline, cached, uncached = (WrkResult.combined(results[label]) for label in runs)
            print(
                f"{name:<14} {bodies[name]:>6} | {baseline.requests_per_second:>14.0f} {baseline.p50_ms:>6.1f}"
                f" {baseline.p99_ms:>6.1f} | {cached.requests_per_second:>12.0f} {cached.p50_ms:>6.1f}"
                f" {cached.p99_ms:>6.1f} {cached.requests_per_second / baseline.requests_per_second:>5.2f} |"
                f" {uncached.requests_per_second:>14.0f} {uncached.p50_ms:>6.1f} {uncached.p99_ms:>6.1f}"
                f" {uncached.requests_per_second / baseline.requests_per_second:>5.2f}",
                flush=True,
            )
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        if not options.keep_database:
            database_drop(database_url)
        shutil.rmtree(work_dir, ignore_errors=True)


def bench_environment(*, database_url: str, work_dir: Path) -> dict[str, str]:
    """Production settings (DEBUG off), with throwaway values for what the storefront never touches."""
    return {
        "DJANGO_SETTINGS_MODULE": "bench.storefront_settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-only-" + "x" * 50,
        "DJANGO_FIELD_ENCRYPTION_SALT": "bench-only-salt",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_MEDIA_ROOT": str(work_dir / "media"),
        "DJANGO_VAR_DIR": str(work_dir / "var"),
        "DATABASE_URL": database_url,
        # Persistent connections, as a production web server keeps them.
        "DATABASE_CONN_MAX_AGE": "600",
        "CACHE_URL": os.environ.get("BENCH_CACHE_URL", DEFAULT_CACHE_URL),
        "CELERY_BROKER_URL": "memory://",
        "BENCH_BASELINE_DIR": str(work_dir / "baseline"),
        "WECHAT_PAY_NOTIFY_URL": "https://shop.example.com/wechat/pay/notify/",
        **{
            name: "bench"
            for name in [
                "WECHAT_OFFICIAL_ACCOUNT_APPID",
                "WECHAT_OFFICIAL_ACCOUNT_SECRET",
                "WECHAT_MINI_PROGRAM_APPID",
                "WECHAT_MINI_PROGRAM_SECRET",
                "WECHAT_PAY_MCH_ID",
                "WECHAT_PAY_API_KEY",
                "WECHAT_PAY_CERT_PATH",
                "WECHAT_PAY_KEY_PATH",
            ]
        },
    }


def database_recreate(database_url: str) -> None:
    name = urlparse(database_url).path[1:]
    with psycopg.connect(maintenance_url(database_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def database_drop(database_url: str) -> None:
    name = urlparse(database_url).path[1:]
    with psycopg.connect(maintenance_url(database_url), autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def maintenance_url(database_url: str) -> str:
    return urlunparse(urlparse(database_url)._replace(path="/postgres"))


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


def filtered_list_path() -> str:
    from catalog.models import Category

    return f"/api/v1/catalog/products?category={Category.objects.get(slug='c1').pk}&in_stock=true&ordering=price"


def capture_bodies(*, host: str, scenarios: dict[str, list[str]], baseline_dir: Path) -> dict[str, int]:
    """Each read's first answer, as the server will send it, saved as its baseline's prebuilt body."""
    from django.test import Client

    client = Client(HTTP_HOST=host)
    baseline_dir.mkdir(parents=True)
    sizes = {}
    for name, paths in scenarios.items():
        response = client.get(paths[0])
        assert response.status_code == 200, (paths[0], response.content[:500])
        (baseline_dir / f"{slug(name)}.json").write_bytes(response.content)
        sizes[name] = len(response.content)
    return sizes


def slug(name: str) -> str:
    return name.replace(" ", "-")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(*, port: int, workers: int, environment: dict[str, str], log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi",
        "--workers",
        str(workers),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
    ]
    with open(log, "w") as log_file:
        server = subprocess.Popen(
            command, cwd=BASE_DIR, env={**os.environ, **environment}, stdout=log_file, stderr=subprocess.STDOUT
        )
    server.port = port
    return server


def wait_until_serving(url: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or workers still booting
            pass
        time.sleep(0.3)
    sys.exit("gunicorn did not answer within 60 s")


class WrkResult:
    def __init__(self, *, requests_per_second: float, p50_ms: float, p99_ms: float):
        self.requests_per_second = requests_per_second
        self.p50_ms = p50_ms
        self.p99_ms = p99_ms

    @classmethod
    def parsed(cls, output: str) -> "WrkResult":
        if errors := re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: .*", output):
            print(f"  wrk reported: {errors.group(0)}", flush=True)
        return cls(
            requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
            p50_ms=cls._percentile_ms(output, "50"),
            p99_ms=cls._percentile_ms(output, "99"),
        )

    @classmethod
    def combined(cls, rounds: list["WrkResult"]) -> "WrkResult":
        return cls(
            requests_per_second=statistics.median(result.requests_per_second for result in rounds),
            p50_ms=statistics.median(result.p50_ms for result in rounds),
            p99_ms=statistics.median(result.p99_ms for result in rounds),
        )

    @staticmethod
    def _percentile_ms(output: str, percentile: str) -> float:
        value, unit = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk_run(*, url: str, paths: list[str], options, script_dir: Path) -> WrkResult:
    """One wrk run over `paths`, picked at random per request, after a short warm-up."""
    script = script_dir / "paths.lua"
    quoted = ",\n".join(f'  "{path}"' for path in paths)
    script.write_text(
        f"local paths = {{\n{quoted}\n}}\n"
        "request = function()\n  return wrk.format(nil, paths[math.random(#paths)])\nend\n"
    )
    common = ["wrk", "--threads", "2", "--connections", str(options.connections), "--script", str(script)]
    subprocess.run([*common, "--duration", "2s", url], check=True, capture_output=True)
    finished = subprocess.run(
        [*common, "--duration", f"{options.seconds}s", "--latency", url], check=True, capture_output=True, text=True
    )
    return WrkResult.parsed(finished.stdout)


if __name__ == "__main__":
    main()
