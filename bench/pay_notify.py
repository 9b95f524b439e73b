"""WeChat Pay payment notifications under load, against a baseline in the same server, measured in one run.

    .venv/bin/python bench/pay_notify.py [--notifications 2000] [--duplicates 0.3] [--concurrency 16]

Needs PostgreSQL (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/bench_pay_notify;
the database is dropped and created afresh, and dropped again at the end).

It loads one order per distinct notification (each with a line, so paying it moves a sales
count, and a pending payment; half signed MD5, half HMAC-SHA256), signs the notifications as
WeChat does, and makes a share of them duplicates of others, shuffled so that copies of one
arrive close together. The app runs under gunicorn with production settings; each
notification is POSTed to /wechat/pay/notify/, --concurrency at a time. The baseline posts
the same bodies to an endpoint in the same server that answers SUCCESS without work
(bench/pay_notify_urls.py). It prints notifications/s and latencies of both, their ratio, and
checks the outcome: every answer SUCCESS, and the orders paid equal the distinct orders.
"""

import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import requests

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.storefront_read import (  # noqa: E402 - after the path is set
    database_drop,
    database_recreate,
    free_port,
    start_gunicorn,
    wait_until_serving,
)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/bench_pay_notify"
API_KEY = "bench0pay0notify0api0key00000000"
APPID = "wxbench000000000001"
MCH_ID = "1900000001"
NOTIFY_PATH = "/wechat/pay/notify/"
BASELINE_PATH = "/bench/pay-notify-baseline/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notifications", type=int, default=2000)
    parser.add_argument("--duplicates", type=float, default=0.3, help="share of the notifications that are copies")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1, help="gunicorn workers")
    parser.add_argument("--keep-database", action="store_true", help="leave the database for inspection")
    options = parser.parse_args()

    database_url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    database_recreate(database_url)
    work_dir = Path(tempfile.mkdtemp(prefix="bench-pay-notify-"))
    environment = bench_environment(database_url=database_url, work_dir=work_dir)
    os.environ.update(environment)

    import django

    django.setup()
    from django.core.management import call_command

    distinct = round(options.notifications * (1 - options.duplicates))
    print(f"loading {distinct:,} orders with pending payments ...", flush=True)
    call_command("migrate", verbosity=0)
    bodies = notifications_make(distinct=distinct, total=options.notifications)

    port = free_port()
    server = start_gunicorn(port=port, workers=options.workers, environment=environment, log=work_dir / "gunicorn.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/api/v1/health", server)
        post_all(url + BASELINE_PATH, bodies[:200], concurrency=options.concurrency)  # warm every worker up
        baseline = post_all(url + BASELINE_PATH, bodies, concurrency=options.concurrency)
        notify = post_all(url + NOTIFY_PATH, bodies, concurrency=options.concurrency)
        print(
            f"\ngunicorn {options.workers} workers, {options.notifications:,} notifications "
            f"({options.notifications - distinct:,} duplicates), {options.concurrency} at a time; latencies in ms\n"
        )
        print(f"{'endpoint':<12} {'notifications/s':>16} {'p50':>7} {'p99':>7} {'ratio':>6}")
        for name, run in (("baseline", baseline), ("notify", notify)):
            print(
                f"{name:<12} {run.per_second:>16.0f} {run.p50_ms:>7.1f} {run.p99_ms:>7.1f}"
                f" {run.per_second / baseline.per_second:>6.2f}"
            )
        outcome_check(notify=notify, distinct=distinct, total=options.notifications)
    finally:
        server.terminate()
        server.wait(timeout=30)
        from django.db import connections

        connections.close_all()
        if not options.keep_database:
            database_drop(database_url)
        shutil.rmtree(work_dir, ignore_errors=True)


def bench_environment(*, database_url: str, work_dir: Path) -> dict[str, str]:
    """Production settings (DEBUG off); the notification endpoint touches neither the cache nor the broker."""
    return {
        "DJANGO_SETTINGS_MODULE": "bench.pay_notify_settings",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": "bench-only-" + "x" * 50,
        "DJANGO_FIELD_ENCRYPTION_SALT": "bench-only-salt",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DJANGO_LOG_LEVEL": "WARNING",
        "DJANGO_MEDIA_ROOT": str(work_dir / "media"),
        "DJANGO_VAR_DIR": str(work_dir / "var"),
        "DATABASE_URL": database_url,
        "DATABASE_CONN_MAX_AGE": "600",  # persistent connections, as a production web server keeps them
        "CACHE_URL": "locmemcache://",
        "CELERY_BROKER_URL": "memory://",
        "WECHAT_OFFICIAL_ACCOUNT_APPID": "bench",
        "WECHAT_OFFICIAL_ACCOUNT_SECRET": "bench",
        "WECHAT_MINI_PROGRAM_APPID": APPID,
        "WECHAT_MINI_PROGRAM_SECRET": "bench",
        "WECHAT_PAY_MCH_ID": MCH_ID,
        "WECHAT_PAY_API_KEY": API_KEY,
        "WECHAT_PAY_NOTIFY_URL": "https://shop.example.com/wechat/pay/notify/",
        # Required in production; no refund is made here.
        "WECHAT_PAY_CERT_PATH": "bench",
        "WECHAT_PAY_KEY_PATH": "bench",
    }


def notifications_make(*, distinct: int, total: int) -> list[bytes]:
    """`distinct` orders with a pending payment each, and `total` signed notifications for them (the rest copies)."""
    from django.utils import timezone

    from catalog.models import Category, Product, Sku
    from customers.models import Customer
    from orders.models import Order, OrderLine, Payment
    from wechat.pay.signing import HMAC_SHA256, MD5, sign
    from wechat.pay.v2 import build_xml

    category = Category.objects.add_root(create_kwargs={"name": "茶具", "slug": "tea"})
    products = Product.objects.bulk_create(
        [Product(category=category, title=f"汝窑茶杯 {number}") for number in range(20)]
    )
    skus = Sku.objects.bulk_create(
        [
            Sku(product=product, code=f"BENCH-{product.pk}", price_fen=3990, stock=10**6, specs={})
            for product in products
        ]
    )
    customer = Customer.objects.create(openid="o-bench-customer")
    expires_at = timezone.now() + timedelta(days=1)
    orders = Order.objects.bulk_create(
        [
            Order(
                order_no=f"20261123{number:016d}",
                customer=customer,
                total_fen=3990,
                recipient="张三",
                phone="13800000000",
                province="广东省",
                city="深圳市",
                district="南山区",
                address_detail="科技园路 1 号",
                expires_at=expires_at,
            )
            for number in range(distinct)
        ],
        batch_size=2000,
    )
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                sku=skus[number % len(skus)],
                title=skus[number % len(skus)].product.title,
                price_fen=3990,
                quantity=1,
                subtotal_fen=3990,
            )
            for number, order in enumerate(orders)
        ],
        batch_size=2000,
    )
    payments = Payment.objects.bulk_create(
        [
            Payment(
                order=order,
                out_trade_no=f"{order.order_no}01",
                amount_fen=3990,
                sign_type=MD5 if number % 2 else HMAC_SHA256,
                prepay_id=f"wx{number:030d}",
                prepay_expires_at=expires_at,
            )
            for number, order in enumerate(orders)
        ],
        batch_size=2000,
    )
    bodies = []
    for number, payment in enumerate(payments):
        fields = {
            "appid": APPID,
            "bank_type": "CMC",
            "cash_fee": "3990",
            "fee_type": "CNY",
            "is_subscribe": "N",
            "mch_id": MCH_ID,
            "nonce_str": f"{number:032x}",
            "openid": customer.openid,
            "out_trade_no": payment.out_trade_no,
            "result_code": "SUCCESS",
            "return_code": "SUCCESS",
            "time_end": "20261123150312",
            "total_fee": "3990",
            "trade_type": "JSAPI",
            "transaction_id": f"42000020261123{number:014d}",
        }
        if payment.sign_type == HMAC_SHA256:
            fields["sign_type"] = HMAC_SHA256
        fields["sign"] = sign(fields, API_KEY, payment.sign_type)
        bodies.append(build_xml(fields))
    randomness = random.Random(8)
    randomness.shuffle(bodies)
    # Each copy lands within a few places after its original, so many are handled at the same time
    # as it: the duplicates that matter, as WeChat's resends after a slow answer are.
    placed = [(float(position), body) for position, body in enumerate(bodies)]
    for _ in range(total - distinct):
        position = randomness.randrange(distinct)
        placed.append((position + randomness.uniform(0, 16), bodies[position]))
    placed.sort(key=lambda entry: entry[0])
    return [body for _, body in placed]


class Run:
    def __init__(self, *, seconds: float, latencies: list[float], answers: list[tuple[int, bytes]]):
        self.per_second = len(latencies) / seconds
        ordered = sorted(latencies)
        self.p50_ms = statistics.median(ordered) * 1000
        self.p99_ms = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        self.answers = answers


def post_all(url: str, bodies: list[bytes], *, concurrency: int) -> Run:
    """POST every body, `concurrency` at a time, each thread on its own keep-alive session."""
    local = threading.local()

    def post(body: bytes) -> tuple[float, int, bytes]:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        session = local.session
        started = time.perf_counter()
        response = session.post(url, data=body, headers={"Content-Type": "text/xml"}, timeout=30)
        return time.perf_counter() - started, response.status_code, response.content

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(post, bodies))
    seconds = time.perf_counter() - started
    return Run(
        seconds=seconds,
        latencies=[latency for latency, _, _ in results],
        answers=[(status, content) for _, status, content in results],
    )


def outcome_check(*, notify: Run, distinct: int, total: int) -> None:
    from orders.models import NotificationOutcome, Order, OrderStatus, PaymentNotification

    refused = [answer for answer in notify.answers if answer[0] != 200 or b"SUCCESS" not in answer[1]]
    paid = Order.objects.filter(status=OrderStatus.PAID).count()
    applied = PaymentNotification.objects.filter(outcome=NotificationOutcome.APPLIED).count()
    stored = PaymentNotification.objects.count()
    print(
        f"\norders paid {paid:,} (distinct orders {distinct:,}); notifications stored {stored:,} of {total:,}, "
        f"applied {applied:,}; answers not SUCCESS: {len(refused)}"
    )
    if refused or paid != distinct or applied != distinct or stored != total:
        sys.exit(f"FAILED: e.g. {refused[:1]}")


if __name__ == "__main__":
    main()
