"""One private deployment for a fault test: gunicorn, a worker and beat on a PostgreSQL cluster and a
Redis server (cache and broker) of the test's own, and the session's WeChat sandbox.

The test stops, restarts and kills these at will; nothing here touches the machine's shared services.
Data is made and read through `manage.py shell` against the private database, as an operator would.
"""

import json
import uuid
from pathlib import Path

import psycopg
from django.conf import settings

from tests.api.servers import gunicorn_servers
from tests.private_services import (
    BEAT_READY_LINE,
    CeleryProcess,
    PrivatePostgres,
    PrivateRedis,
    beat_process,
    database_from_template,
    manage_py_shell,
    product_environment,
)

WORKER_READY_LINE = "ready."
# Beat resumes a push whose worker died after this long without progress (production: 900 s).
PUSH_STALLED_SECONDS = 4

SEED_SHOP = """
import json, secrets
from datetime import timedelta
from django.utils import timezone
from customers.models import CustomerToken
from tests.factories import AddressFactory, CustomerFactory, SkuFactory
skus = [SkuFactory(stock={stock}, price_fen=1990 + number) for number in range({sku_count})]
buyers = []
for number in range({buyer_count}):
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, is_default=True)
    token = secrets.token_urlsafe(32)
    CustomerToken.objects.create(customer=customer, key_digest=CustomerToken.digest(token),
                                 expires_at=timezone.now() + timedelta(days=1))
    buyers.append({{"token": token, "address_id": address.pk}})
print(json.dumps({{"sku_ids": [sku.pk for sku in skus], "buyers": buyers}}))
"""

# Due pushes are looked for every second instead of every minute, so a test need not wait a minute.
BEAT_EVERY_SECOND = """
from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks
every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period=IntervalSchedule.SECONDS)
PeriodicTask.objects.filter(task="articles.tasks.dispatch_pushes").update(interval=every_second, crontab=None)
PeriodicTasks.update_changed()
print("{}")
"""

SCHEDULE_PUSH = """
import json
from datetime import timedelta
from django.utils import timezone
from articles.models import Push, PushAudience, PushStatus
from tests.articles.pushes import account_registered, push_created
from wechat.models import OfficialAccount
from wechat_sandbox.client import SandboxClient
account = account_registered(SandboxClient({sandbox_url!r}), account_type=OfficialAccount.AccountType.SERVICE)
sandbox = SandboxClient({sandbox_url!r})
followers = sandbox.add_followers(account.appid, count={followers})["openids"]
openids = [*followers, *(f"o-not-following-{{number:011d}}" for number in range({strangers}))]
push = push_created(account, audience={audience!r}, openids=openids if {audience!r} == PushAudience.OPENIDS else None,
                    status=PushStatus.SCHEDULED)
Push.objects.filter(pk=push.pk).update(scheduled_at=timezone.now())
print(json.dumps({{"push_id": push.pk, "appid": account.appid}}))
"""


class Deployment:
    def __init__(self, *, postgres: PrivatePostgres, redis: PrivateRedis, sandbox_server, folder: Path):
        self.postgres, self.redis, self.sandbox_server, self.folder = postgres, redis, sandbox_server, folder
        self.database = f"faults_{uuid.uuid4().hex[:8]}"
        self.queue = f"faults-{uuid.uuid4().hex[:8]}"
        certificate = sandbox_server.tls.merchant_certificate(settings.WECHAT_PAY_MCH_ID)
        self.environment = product_environment(
            database_url=database_from_template(postgres, self.database),
            redis=redis,
            queue=self.queue,
            WECHAT_API_BASE_URL=sandbox_server.url,
            WECHAT_PAY_API_BASE_URL=sandbox_server.url,
            WECHAT_PAY_SECAPI_BASE_URL=sandbox_server.secapi_url,
            WECHAT_PAY_CA_BUNDLE=sandbox_server.tls.ca_path,
            WECHAT_PAY_CERT_PATH=certificate.cert_path,
            WECHAT_PAY_KEY_PATH=certificate.key_path,
            WECHAT_PAY_REFUND_NOTIFY_URL="",
            PUSH_SEND_STALLED_SECONDS=str(PUSH_STALLED_SECONDS),
            # Orders must not expire while the test counts their stock.
            ORDER_PAYMENT_TIMEOUT_MINUTES="120",
        )
        # settings_test's queues named after this deployment's, and the production ones.
        own = [self.queue, f"{self.queue}-mass_send", f"{self.queue}-subscribe_messages"]
        queues = [*own, "orders", "followers", "reconciliation"]
        self.worker_arguments = ["--queues", ",".join(queues), "--without-mingle", "--without-gossip"]
        self.beat = beat_process(self.environment, folder / "beat.log")
        self.worker: CeleryProcess | None = None

    def shell(self, code: str) -> dict:
        return json.loads(manage_py_shell(self.environment, code).strip().splitlines()[-1])

    def seed_shop(self, *, sku_count: int, stock: int, buyer_count: int) -> dict:
        return self.shell(SEED_SHOP.format(sku_count=sku_count, stock=stock, buyer_count=buyer_count))

    def schedule_push(self, *, audience: str = "all", followers: int = 50, strangers: int = 0) -> dict:
        return self.shell(
            SCHEDULE_PUSH.format(
                sandbox_url=self.sandbox_server.url, followers=followers, strangers=strangers, audience=audience
            )
        )

    def worker_start(self, *, app: str = "config", pool: str = "threads", **environment: str) -> CeleryProcess:
        self.worker_spawn(app=app, pool=pool, **environment)
        self.worker.wait_until_ready()
        return self.worker

    def worker_spawn(self, *, app: str = "config", pool: str = "threads", **environment: str) -> CeleryProcess:
        """Starts a worker without waiting for it, so several processes can boot at once on a busy machine."""
        arguments = ["worker", f"--pool={pool}", "--concurrency=4", "--loglevel=INFO", *self.worker_arguments]
        arguments += ["--hostname", f"faults-{uuid.uuid4().hex[:6]}@localhost"]
        # `app` may be a test-made one (tests/articles/dying_worker.py) that runs config's app and kills itself.
        self.worker = CeleryProcess(
            arguments, environment={**self.environment, **environment}, log_path=self.folder / "worker.log", app=app
        )
        self.worker.spawn(ready_line=WORKER_READY_LINE)
        return self.worker

    def beat_and_worker_start(self, *, app: str = "config", pool: str = "threads", **environment: str) -> CeleryProcess:
        self.shell(BEAT_EVERY_SECOND)
        self.beat.spawn(ready_line=BEAT_READY_LINE)
        worker = self.worker_spawn(app=app, pool=pool, **environment)
        self.beat.wait_until_ready()
        worker.wait_until_ready()
        return worker

    def web(self):
        return gunicorn_servers(1, environment=self.environment, use_test_database=False)

    def query(self, sql: str, *parameters) -> list[tuple]:
        with psycopg.connect(self.postgres.url(self.database), connect_timeout=10) as connection:
            return connection.execute(sql, parameters).fetchall()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        self.beat.stop()
