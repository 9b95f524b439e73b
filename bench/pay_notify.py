"""WeChat Pay payment notifications under load, v2 beside v3, against a baseline in the same server, in one run.

    DATABASE_URL=postgres://... CACHE_URL=redis://... CELERY_BROKER_URL=amqp://... \
        .venv/bin/python bench/pay_notify.py [--notifications 2000] [--duplicates 0.3] [--concurrency 16] [--quick]
            [--record]

Runs the product as production does (bench/harness.py: gunicorn on config/gunicorn.py, DEBUG off,
PostgreSQL with production's connection setting, the Redis cache and the broker the environment
names) on a database of its own beside DATABASE_URL's (<name>_pay_notify_bench, dropped at the end).

It loads one order per distinct notification, API version and round (each with a line, so paying
it moves a sales count, and a pending payment): v2 payments through the settings' merchant (half
signed MD5, half HMAC-SHA256), v3 payments through a second Mini Program's v3 merchant (WeChat
Pay's public key mode). It makes the notifications as WeChat Pay does (v2: signed XML; v3: JSON
whose resource is AEAD_AES_256_GCM-encrypted with the APIv3 key, signed SHA256withRSA with a key
pair playing WeChat Pay's, whose public key the merchant holds), and makes a share of them
duplicates of others, shuffled so that copies of one arrive close together. A load generator in
its own process POSTs them to /wechat/pay/notify/ or /wechat/pay/v3/notify/, --concurrency at a
time. The baseline posts the same v2 bodies to an endpoint in the same server that answers
SUCCESS without work (bench/baseline_urls.py), and to two floors (bench/pay_notify_floor.py): one
durable INSERT of the notification's id before it answers (what the stack and the durable commit
cost), and what any correct handler must do: parse, verify the signature, and in one statement
lock the order and payment, check the amount, mark both paid once and store the id, on orders of
its own loaded like the product's (the gap between it and the product is our code's). Baseline,
the floors, v2 and v3 alternate over three rounds, each round on fresh orders. It prints
notifications/s and latencies of each (medians and their spread), their ratio to the baseline,
the CPU per notification of gunicorn's workers and of the database's backends with what the
backends were doing (WhereTheTimeGoes), what one RSA verify and one AES-GCM decrypt cost in this
process, and checks the outcome: every answer a success, the
orders paid equal the distinct orders, every copy stored, the floors' every id stored once. --record
writes the figures to docs/benchmarks.md; --quick runs QUICK_NOTIFICATIONS a round: for tests, seconds.
"""

import argparse
import collections
import contextlib
import json
import random
import statistics
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from bench.harness import (  # noqa: E402 - after the path is set
    PER_SECOND,
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
from bench.side_database import SideDatabase  # noqa: E402 - after the path is set
from wechat.pay.v3_signing import PAY_SIGN_TYPE as V3_SIGN_TYPE  # noqa: E402 - after the path is set

API_KEY = "bench0pay0notify0api0key00000000"
APPID = "wxbench000000000001"
MCH_ID = "1900000001"
V3_APPID = "wx00000000000b0002"
V3_MCH_ID = "1900000002"
APIV3_KEY = "bench0pay0notify0apiv3key0000000"
PUBLIC_KEY_ID = "PUB_KEY_ID_0119000000020000000000000000"
NOTIFY_PATH = "/wechat/pay/notify/"
V3_NOTIFY_PATH = "/wechat/pay/v3/notify/"
BASELINE_PATH = "/bench/pay-notify-baseline/"
FLOOR_PATH = "/bench/pay-notify-floor/"
FLOOR_PAID_PATH = "/bench/pay-notify-floor-paid/"
WARM_UP = 100  # distinct notifications of each version sent before the timed rounds
QUICK_NOTIFICATIONS = 100
BASELINE = "baseline (SUCCESS only)"
FLOOR = "floor (one durable INSERT)"
FLOOR_PAID = "floor (verify, check, mark paid once)"
# The second floor's orders: numbered apart from the product's, so the outcome's check tells them apart.
FLOOR_PAID_ORDER_PREFIX = "20261125"
V2 = "v2 /wechat/pay/notify/"
V3 = "v3 /wechat/pay/v3/notify/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notifications", type=int, default=2000, help="of each API version, per round")
    parser.add_argument("--duplicates", type=float, default=0.3, help="share of the notifications that are copies")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--quick", action="store_true", help=f"{QUICK_NOTIFICATIONS} notifications of each kind: for tests, seconds"
    )
    parser.add_argument("--record", action="store_true", help="write the figures to docs/benchmarks.md")
    parser.add_argument("--note", default="", help="recorded with the figures: what the reader should know of the run")
    parser.add_argument("--keep-database", action="store_true", help="leave the database for inspection")
    options = parser.parse_args()
    if options.quick:
        options.notifications = QUICK_NOTIFICATIONS

    with bench_services("pay_notify", keep_database=options.keep_database) as services:
        environment = bench_environment(services)
        django_setup(environment)
        floor_table_create()
        distinct = round(options.notifications * (1 - options.duplicates))
        per_version = WARM_UP + options.rounds * distinct
        print(f"loading {3 * per_version:,} orders with pending payments (v2, v3, the second floor) ...", flush=True)
        wechatpay_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        v2_payments, v3_payments, floor_payments = payments_make(distinct=per_version, wechatpay_key=wechatpay_key)
        randomness = random.Random(8)

        def batches(payments: list) -> list[list]:
            """The warm-up's payments, then each round's."""
            rounds = [
                payments[WARM_UP + number * distinct : WARM_UP + (number + 1) * distinct]
                for number in range(options.rounds)
            ]
            return [payments[:WARM_UP], *rounds]

        def v2_batches_of(payments: list) -> list[list]:
            """Each batch's signed v2 notifications with their copies (the warm-up's without)."""
            return [
                with_duplicates(
                    v2_notifications(batch),
                    total=len(batch) if number == 0 else options.notifications,
                    randomness=randomness,
                )
                for number, batch in enumerate(batches(payments))
            ]

        v2_batches = v2_batches_of(v2_payments)
        v3_batches = batches(v3_payments)
        floor_paid_batches = v2_batches_of(floor_payments)

        def v3_requests(batch: list, total: int) -> list[Request]:
            # Signed just before they are sent: v3's signatures are good for 5 minutes (签名验证).
            return with_duplicates(
                v3_notifications(batch, wechatpay_key=wechatpay_key), total=total, randomness=randomness
            )

        with ProductionServer(environment, log=services.work_dir / "gunicorn.log") as server, LoadGenerator() as load:
            where = {
                label: WhereTheTimeGoes()
                for label in (BASELINE_PATH, FLOOR_PATH, FLOOR_PAID_PATH, NOTIFY_PATH, V3_NOTIFY_PATH)
            }

            def send(path: str, requests_: list[Request]) -> HttpRun:
                with where[path].during(server=server, database=services.database, requests=len(requests_)):
                    return load.run(
                        server.url,
                        [Request("POST", path, body, headers) for body, headers in requests_],
                        concurrency=options.concurrency,
                    )

            for measurement in where.values():
                measurement.enabled = False
            send(BASELINE_PATH, v2_batches[0])  # every worker and thread warmed up before timing
            send(FLOOR_PATH, v2_batches[0])
            send(FLOOR_PAID_PATH, floor_paid_batches[0])
            send(NOTIFY_PATH, v2_batches[0])
            send(V3_NOTIFY_PATH, v3_requests(v3_batches[0], total=len(v3_batches[0])))
            for measurement in where.values():
                measurement.enabled = True
            print(f"{options.rounds} rounds of {options.notifications:,} notifications of each kind ...", flush=True)
            results = interleaved(
                {
                    BASELINE: lambda number: send(BASELINE_PATH, v2_batches[1 + number]),
                    # The floor's table is its own: the same bodies are new to it.
                    FLOOR: lambda number: send(FLOOR_PATH, v2_batches[1 + number]),
                    FLOOR_PAID: lambda number: send(FLOOR_PAID_PATH, floor_paid_batches[1 + number]),
                    V2: lambda number: send(NOTIFY_PATH, v2_batches[1 + number]),
                    V3: lambda number: send(
                        V3_NOTIFY_PATH, v3_requests(v3_batches[1 + number], total=options.notifications)
                    ),
                },
                rounds=options.rounds,
            )
        table = figures_table(results, baseline=BASELINE, metric=PER_SECOND)
        settings_line = (
            f"{server.settings_line}; {options.notifications:,} notifications of each kind a round "
            f"({options.notifications - distinct:,} of them copies), {options.concurrency} at a time"
        )
        print(f"\n{settings_line}\n\n{table.text()}")
        print(
            f"\nv2 / baseline: {table.ratio(V2):.2f} (aim ≥ 0.5); v3 / baseline: {table.ratio(V3):.2f} (aim ≥ 0.5); "
            f"floor / baseline: {table.ratio(FLOOR):.2f}, {FLOOR_PAID} / baseline: {table.ratio(FLOOR_PAID):.2f}; "
            f"v2 / floor: {_ratio_of(results[V2], results[FLOOR]):.2f}, "
            f"v3 / floor: {_ratio_of(results[V3], results[FLOOR]):.2f}; "
            f"v2 / {FLOOR_PAID}: {_ratio_of(results[V2], results[FLOOR_PAID]):.2f}, "
            f"v3 / {FLOOR_PAID}: {_ratio_of(results[V3], results[FLOOR_PAID]):.2f} (what our code leaves of it)"
        )
        cpu_split = "; ".join(
            f"{name} {where[path].text()}"
            for name, path in (
                ("baseline", BASELINE_PATH),
                ("floor", FLOOR_PATH),
                ("floor, marking paid", FLOOR_PAID_PATH),
                ("v2", NOTIFY_PATH),
                ("v3", V3_NOTIFY_PATH),
            )
        )
        print(f"\nper notification, over the rounds: {cpu_split}")
        crypto = crypto_costs(v3_requests(v3_batches[1][:1], total=1)[0], wechatpay_key=wechatpay_key)
        print(f"\nper v3 notification, in one process: {crypto}")
        outcome = outcome_check(
            v2=[*results[V2]],
            v3=[*results[V3]],
            floor=[*results[FLOOR]],
            floor_paid=[*results[FLOOR_PAID]],
            distinct=per_version,
            sent=2 * (WARM_UP + options.rounds * options.notifications),
        )
        if options.record:
            benchmarks_md_record(
                bench="pay_notify",
                tables={"": table},
                settings=settings_line,
                notes=(
                    f"CPU per notification over the rounds (gunicorn's workers / the database's backends), and "
                    f"what the busy backends were doing, sampled: {cpu_split}. "
                    f"Per v3 notification, in one process: {crypto}. {outcome} {options.note}"
                ).strip(),
            )


def _ratio_of(runs: list[HttpRun], bases: list[HttpRun]) -> float:
    """The median of the rounds' own ratios of notifications/s, as figures_table takes them."""
    return statistics.median(run.per_second / base.per_second for run, base in zip(runs, bases, strict=True))


def floor_table_create() -> None:
    """The floor endpoints' tables and the second's function (bench/pay_notify_floor.py), in the bench's database."""
    from django.db import connection

    from bench.pay_notify_floor import FLOOR_PAID_FUNCTION_CREATE, FLOOR_PAID_TABLE_CREATE, FLOOR_TABLE_CREATE

    with connection.cursor() as cursor:
        cursor.execute(FLOOR_TABLE_CREATE)
        cursor.execute(FLOOR_PAID_TABLE_CREATE)
        cursor.execute(FLOOR_PAID_FUNCTION_CREATE)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU a process has used so far (/proc/PID/stat, fields 14 and 15); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / PROCESS_CLOCK_TICKS


PROCESS_CLOCK_TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux
WAIT_SAMPLE_SECONDS = 0.02


@dataclass
class WhereTheTimeGoes:
    """Over one kind's runs: CPU seconds of gunicorn's workers and of the bench database's PostgreSQL backends
    (/proc), and what those backends were doing (pg_stat_activity, sampled every WAIT_SAMPLE_SECONDS from a
    connection to another database, so the sampler's own backend is not counted).
    """

    enabled: bool = True
    requests: int = 0
    worker_seconds: float = 0.0
    database_seconds: float = 0.0
    states: collections.Counter = field(default_factory=collections.Counter)

    @contextlib.contextmanager
    def during(self, *, server: ProductionServer, database: SideDatabase, requests: int) -> Iterator[None]:
        """Counts what the run inside the block used (nothing while `enabled` is off: the warm-up)."""
        if not self.enabled:
            yield
            return
        import psycopg

        with psycopg.connect(database.maintenance_url, autocommit=True) as sampler_connection:
            backends = _backends(sampler_connection, database.name)
            before = {pid: _cpu_seconds(pid) for pid in [*_children(server.pid), *backends]}
            stop = threading.Event()

            def sample() -> None:
                while not stop.wait(WAIT_SAMPLE_SECONDS):
                    rows = sampler_connection.execute(
                        "SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE datname = %s",
                        [database.name],
                    ).fetchall()
                    for state, wait_type, wait_event in rows:
                        if state == "active":
                            self.states[f"{wait_type}:{wait_event}" if wait_type else "on CPU"] += 1
                        elif state == "idle in transaction":
                            self.states["idle in transaction (waiting for the worker)"] += 1

            sampler = threading.Thread(target=sample)
            sampler.start()
            try:
                yield
            finally:
                stop.set()
                sampler.join()
            backends |= _backends(sampler_connection, database.name)

        def used(pids: set[int]) -> float:
            # A process that ended during the run (0 now) is left out: its last figures are unknown.
            now = {pid: _cpu_seconds(pid) for pid in pids}
            return sum(seconds - before.get(pid, 0.0) for pid, seconds in now.items() if seconds)

        self.requests += requests
        self.worker_seconds += used(_children(server.pid))
        self.database_seconds += used(backends)

    def text(self) -> str:
        if not self.requests:
            return "not measured"
        busy = sum(self.states.values())
        top = ", ".join(f"{state} {count / busy:.0%}" for state, count in self.states.most_common(4))
        top = top or "no database work"
        return (
            f"{self.worker_seconds / self.requests * 1000:.2f} / {self.database_seconds / self.requests * 1000:.2f} "
            f"ms CPU ({top})"
        )


def _children(pid: int) -> set[int]:
    """gunicorn's workers: the master's children."""
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def _backends(connection, database_name: str) -> set[int]:
    rows = connection.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", [database_name]).fetchall()
    return {pid for (pid,) in rows}


def bench_environment(services: BenchServices) -> dict[str, str]:
    """Production's environment with the baseline endpoint's URLs (bench/settings.py) and the bench's merchant."""
    return production_environment(
        services,
        DJANGO_SETTINGS_MODULE="bench.settings",
        WECHAT_MINI_PROGRAM_APPID=APPID,
        WECHAT_PAY_MCH_ID=MCH_ID,
        WECHAT_PAY_API_KEY=API_KEY,
    )


def payments_make(*, distinct: int, wechatpay_key: RSAPrivateKey) -> tuple[list, list, list]:
    """`distinct` orders with a pending payment for each API version and for the second floor (v2, through the
    settings' merchant, as the product's v2 payments): (v2 payments, v3 payments, the floor's payments)."""
    from django.utils import timezone

    from catalog.models import Category, Product, Sku
    from customers.models import Customer
    from orders.models import Order, OrderLine, Payment
    from wechat.merchants import mini_program_default
    from wechat.models import Merchant, MiniProgram
    from wechat.pay.signing import HMAC_SHA256, MD5

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
    mini_program_default()  # the settings' Mini Program and its v2 merchant
    v3_merchant = Merchant.objects.create(
        name="bench v3",
        mch_id=V3_MCH_ID,
        api_version=Merchant.ApiVersion.V3,
        apiv3_key=APIV3_KEY,
        private_key=_pem_private(rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        certificate_serial="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        verification=Merchant.Verification.PUBLIC_KEY,
        wechatpay_public_key=_pem_public(wechatpay_key),
        wechatpay_public_key_id=PUBLIC_KEY_ID,
    )
    MiniProgram.objects.create(name="bench v3", appid=V3_APPID, app_secret="bench", merchant=v3_merchant)
    customer = Customer.objects.create(openid="o-bench-customer")
    expires_at = timezone.now() + timedelta(days=1)
    orders = Order.objects.bulk_create(
        [
            Order(
                order_no=f"{FLOOR_PAID_ORDER_PREFIX if number >= 2 * distinct else '20261123'}{number:016d}",
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
            for number in range(3 * distinct)
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

    def payments_for(numbered_orders: list, *, first: int, v2: bool) -> list:
        # v2 payments are made through the settings' Mini Program and merchant, named as prepay names them
        # now, half signed MD5 and half HMAC-SHA256; v3 payments through the second Mini Program's v3 merchant.
        return Payment.objects.bulk_create(
            [
                Payment(
                    order=order,
                    out_trade_no=f"{order.order_no}01",
                    amount_fen=3990,
                    sign_type=(MD5 if number % 2 else HMAC_SHA256) if v2 else V3_SIGN_TYPE,
                    appid=APPID if v2 else V3_APPID,
                    mch_id=MCH_ID if v2 else V3_MCH_ID,
                    prepay_id=f"wx{first + number:030d}",
                    prepay_expires_at=expires_at,
                )
                for number, order in enumerate(numbered_orders)
            ],
            batch_size=2000,
        )

    v2_payments = payments_for(orders[:distinct], first=0, v2=True)
    v3_payments = payments_for(orders[distinct : 2 * distinct], first=distinct, v2=False)
    floor_payments = payments_for(orders[2 * distinct :], first=2 * distinct, v2=True)
    return v2_payments, v3_payments, floor_payments


def v2_notifications(payments: list) -> list[tuple[bytes, dict[str, str]]]:
    """支付结果通知 (v2) for each payment: XML signed with the API key, as its payment was signed."""
    from wechat.pay.signing import HMAC_SHA256, sign
    from wechat.pay.v2 import build_xml

    requests_ = []
    for payment in payments:
        fields = {
            "appid": APPID,
            "bank_type": "CMC",
            "cash_fee": "3990",
            "fee_type": "CNY",
            "is_subscribe": "N",
            "mch_id": MCH_ID,
            "nonce_str": f"{payment.pk:032x}",
            "openid": "o-bench-customer",
            "out_trade_no": payment.out_trade_no,
            "result_code": "SUCCESS",
            "return_code": "SUCCESS",
            "time_end": "20261123150312",
            "total_fee": "3990",
            "trade_type": "JSAPI",
            "transaction_id": f"42000020261123{payment.pk:014d}",
        }
        if payment.sign_type == HMAC_SHA256:
            fields["sign_type"] = HMAC_SHA256
        fields["sign"] = sign(fields, API_KEY, payment.sign_type)
        requests_.append((build_xml(fields), {"Content-Type": "text/xml"}))
    return requests_


def v3_notifications(payments: list, *, wechatpay_key: RSAPrivateKey) -> list[tuple[bytes, dict[str, str]]]:
    """支付成功回调通知 (v3) for each payment: the resource encrypted with the APIv3 key, signed as WeChat Pay signs."""
    from wechat.pay.v3_signing import answer_message, resource_encrypt, rsa_sign

    requests_ = []
    timestamp = str(int(time.time()))
    for payment in payments:
        resource = {
            "appid": V3_APPID,
            "mchid": V3_MCH_ID,
            "out_trade_no": payment.out_trade_no,
            "transaction_id": f"42000020261124{payment.pk:014d}",
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "bank_type": "CMC",
            "attach": "",
            "success_time": "2026-11-23T15:03:12+08:00",
            "payer": {"openid": "o-bench-customer"},
            "amount": {"total": 3990, "payer_total": 3990, "currency": "CNY", "payer_currency": "CNY"},
        }
        nonce = f"{payment.pk:012x}"
        body = json.dumps(
            {
                "id": f"EV-{payment.pk:020d}",
                "create_time": "2026-11-23T15:03:12+08:00",
                "resource_type": "encrypt-resource",
                "event_type": "TRANSACTION.SUCCESS",
                "summary": "支付成功",
                "resource": {
                    "original_type": "transaction",
                    "algorithm": "AEAD_AES_256_GCM",
                    "ciphertext": resource_encrypt(
                        apiv3_key=APIV3_KEY,
                        nonce=nonce,
                        plaintext=json.dumps(resource, ensure_ascii=False).encode(),
                        associated_data="transaction",
                    ),
                    "associated_data": "transaction",
                    "nonce": nonce,
                },
            },
            ensure_ascii=False,
        ).encode()
        header_nonce = f"{payment.pk:032x}"
        headers = {
            "Content-Type": "application/json",
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": header_nonce,
            "Wechatpay-Serial": PUBLIC_KEY_ID,
            "Wechatpay-Signature": rsa_sign(wechatpay_key, answer_message(timestamp, header_nonce, body).decode()),
        }
        requests_.append((body, headers))
    return requests_


def with_duplicates(
    requests_: list[tuple[bytes, dict[str, str]]], *, total: int, randomness: random.Random
) -> list[tuple[bytes, dict[str, str]]]:
    """The requests shuffled, with copies up to `total`, each copy within a few places after its original.

    So many are handled at the same time as it: the duplicates that matter, as WeChat's resends
    after a slow answer are.
    """
    shuffled = list(requests_)
    randomness.shuffle(shuffled)
    placed = [(float(position), request) for position, request in enumerate(shuffled)]
    for _ in range(total - len(shuffled)):
        position = randomness.randrange(len(shuffled))
        placed.append((position + randomness.uniform(0, 16), shuffled[position]))
    placed.sort(key=lambda entry: entry[0])
    return [request for _, request in placed]


def crypto_costs(request: tuple[bytes, dict[str, str]], *, wechatpay_key: RSAPrivateKey) -> str:
    """What one v3 notification's cryptography costs, in this process: the RSA verify and the AES-GCM decrypt."""
    from wechat.pay.v3_signing import answer_verify, resource_decrypt

    body, headers = request
    resource = json.loads(body)["resource"]
    public_key = wechatpay_key.public_key()
    rounds = 500
    started = time.perf_counter()
    for _ in range(rounds):
        answer_verify(headers=headers, body=body, public_key_for_serial=lambda serial: public_key)
    verify_us = (time.perf_counter() - started) / rounds * 1e6
    started = time.perf_counter()
    for _ in range(rounds):
        resource_decrypt(
            apiv3_key=APIV3_KEY,
            nonce=resource["nonce"],
            ciphertext=resource["ciphertext"],
            associated_data=resource["associated_data"],
        )
    decrypt_us = (time.perf_counter() - started) / rounds * 1e6
    return f"RSA-2048 verify {verify_us:.0f} µs, AES-256-GCM decrypt {decrypt_us:.0f} µs"


def _pem_public(key: RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _pem_private(key: RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def outcome_check(
    *, v2: list[HttpRun], v3: list[HttpRun], floor: list[HttpRun], floor_paid: list[HttpRun], distinct: int, sent: int
) -> str:
    """Every answer a success, each distinct order paid once, every notification stored; exits otherwise.

    The floors' too: every answer SUCCESS, each distinct id they were sent stored once, the second's orders paid.
    """
    from django.db import connection

    from bench.pay_notify_floor import FLOOR_PAID_TABLE, FLOOR_TABLE
    from orders.models import NotificationOutcome, Order, OrderStatus, PaymentNotification

    refused = [
        (status, answer)
        for run in [*v2, *floor, *floor_paid]
        for status, answer in zip(run.statuses, run.answers, strict=True)
        if status != 200 or b"SUCCESS" not in answer
    ]
    # v3's success: 204, no body.
    refused += [
        (status, answer)
        for run in v3
        for status, answer in zip(run.statuses, run.answers, strict=True)
        if status != 204
    ]
    paid_orders = Order.objects.filter(status=OrderStatus.PAID)
    floor_paid_orders = paid_orders.filter(order_no__startswith=FLOOR_PAID_ORDER_PREFIX).count()
    paid = paid_orders.count() - floor_paid_orders
    applied = PaymentNotification.objects.filter(outcome=NotificationOutcome.APPLIED).count()
    stored = PaymentNotification.objects.count()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {FLOOR_TABLE}")
        (floor_stored,) = cursor.fetchone()
        cursor.execute(f"SELECT count(*) FROM {FLOOR_PAID_TABLE}")
        (floor_paid_stored,) = cursor.fetchone()
    summary = (
        f"Orders paid {paid:,} (distinct orders {2 * distinct:,}); notifications stored {stored:,} of {sent:,} sent, "
        f"applied {applied:,}; the floor's ids stored {floor_stored:,} (distinct {distinct:,}); the second floor's "
        f"orders paid {floor_paid_orders:,} and ids stored {floor_paid_stored:,} (distinct {distinct:,}); answers "
        f"not a success: {len(refused)}."
    )
    print(f"\n{summary}")
    floors_right = floor_stored == distinct and floor_paid_stored == distinct and floor_paid_orders == distinct
    if refused or paid != 2 * distinct or applied != 2 * distinct or stored != sent or not floors_right:
        sys.exit(f"FAILED: e.g. {refused[:1]}")
    return summary


if __name__ == "__main__":
    main()
