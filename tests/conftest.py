import importlib
import os
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection

from tests.caching import caches_clear
from tests.real_services import IN_CI
from wechat_sandbox.client import SandboxClient
from wechat_sandbox.server import sandbox_apps_from_settings, sandbox_merchants_from_settings, start_in_thread


@pytest.fixture(autouse=True)
def _empty_cache():
    """Tokens, locks, throttle counters and stored answers must not leak from one test to the next."""
    caches_clear()
    yield
    caches_clear()


@pytest.fixture(autouse=True)
def _staff_read_english(request):
    """The suite's tests were written against the English wording: they read English unless marked.

    Users a test creates choose English (a StaffLanguage row, as the admin's user menu makes one), and
    code the test calls outside a request (services, tasks, model validation) speaks English. The Chinese
    default is proven by tests marked `chinese_staff` (tests/staff/test_language.py, ...), for which
    users keep the default and the site's language (Chinese) stays active.
    """
    if request.node.get_closest_marker("chinese_staff"):
        yield
        return
    from django.contrib.auth import get_user_model
    from django.db.models.signals import post_save
    from django.utils import translation

    from staff.models import StaffLanguage

    def choose_english(sender, instance, created, raw=False, **kwargs):
        if created and not raw:
            StaffLanguage.objects.get_or_create(user=instance, defaults={"language": "en"})

    user_model = get_user_model()
    post_save.connect(choose_english, sender=user_model, dispatch_uid="tests-staff-read-english")
    with translation.override("en"):
        yield
    post_save.disconnect(sender=user_model, dispatch_uid="tests-staff-read-english")


@pytest.fixture
def staff_groups():
    """The staff groups, for transactional tests: an earlier one ends by emptying every table, groups included.

    Every migration that grants the groups permissions is run again, in migration order; their grant
    functions are idempotent and put the groups back exactly as a fresh database has them.
    (serialized_rollback cannot: it reloads content types whose ids the flush has already reassigned.)
    """
    for module in _staff_group_migrations():
        module.grant(apps, SimpleNamespace(connection=connection))


def _staff_group_migrations() -> list:
    from django.db.migrations.loader import MigrationLoader

    graph = MigrationLoader(connection, ignore_no_migrations=True).graph
    modules = []
    for leaf in sorted(graph.leaf_nodes()):
        for app_label, name in graph.forwards_plan(leaf):
            module = importlib.import_module(graph.nodes[(app_label, name)].__module__)
            if hasattr(module, "STAFF_GROUP_GRANTS") and module not in modules:
                modules.append(module)
    return modules


@pytest.fixture(scope="session")
def sandbox_server():
    """One WeChat sandbox on a free loopback port for the whole run, reached over real HTTP."""
    running = start_in_thread(apps=sandbox_apps_from_settings(), merchants=sandbox_merchants_from_settings())
    yield running
    running.stop()


@pytest.fixture
def sandbox(sandbox_server, settings) -> SandboxClient:
    """The sandbox with fresh state, and our settings pointed at it (secapi/ at its TLS port, with its certificates)."""
    settings.WECHAT_API_BASE_URL = sandbox_server.url
    settings.WECHAT_PAY_API_BASE_URL = sandbox_server.url
    settings.WECHAT_PAY_SECAPI_BASE_URL = sandbox_server.secapi_url
    settings.WECHAT_PAY_V3_BASE_URL = sandbox_server.v3_url
    settings.WECHAT_PAY_CA_BUNDLE = sandbox_server.tls.ca_path
    certificate = sandbox_server.tls.merchant_certificate(settings.WECHAT_PAY_MCH_ID)
    settings.WECHAT_PAY_CERT_PATH, settings.WECHAT_PAY_KEY_PATH = certificate.cert_path, certificate.key_path
    client = SandboxClient(sandbox_server.url)
    client.reset()
    # A restored snapshot keeps only the merchant key's digest: register it again to sign with it.
    for merchant in sandbox_merchants_from_settings():
        client.register_merchant(mch_id=merchant.mch_id, api_key=merchant.api_key, appid=merchant.appid)
    return client


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, sandbox_server):
    """A real `celery worker` process on this run's broker and queues, using the test database and sandbox."""
    import os
    import socket
    import subprocess
    import sys
    import time
    from pathlib import Path

    from config import celery_app

    log_path = Path(settings.VAR_DIR) / "test-celery-worker.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    node_name = f"tests-{os.getpid()}@{socket.gethostname()}"
    certificate = sandbox_server.tls.merchant_certificate(settings.WECHAT_PAY_MCH_ID)
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "USE_TEST_DATABASE": "1",
        # WeChat is the session's sandbox, as the `sandbox` fixture points this process at it.
        "WECHAT_API_BASE_URL": sandbox_server.url,
        "WECHAT_PAY_API_BASE_URL": sandbox_server.url,
        "WECHAT_PAY_SECAPI_BASE_URL": sandbox_server.secapi_url,
        "WECHAT_PAY_V3_BASE_URL": sandbox_server.v3_url,
        "WECHAT_PAY_CA_BUNDLE": sandbox_server.tls.ca_path,
        "WECHAT_PAY_CERT_PATH": certificate.cert_path,
        "WECHAT_PAY_KEY_PATH": certificate.key_path,
        # Refunds are notified to the order's notify_url: no live server outlives a test.
        "WECHAT_PAY_REFUND_NOTIFY_URL": "",
    }
    with open(log_path, "w") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--pool=solo",
                "--loglevel=INFO",
                "--queues",
                f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.MASS_SEND_QUEUE}",
                "--without-mingle",
                "--without-gossip",
                "--without-heartbeat",
                "--hostname",
                node_name,
            ],
            cwd=settings.BASE_DIR,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            pytest.fail(f"the Celery worker did not start:\n{log_path.read_text()[-3000:]}", pytrace=False)
        time.sleep(0.05)
    worker.node_name = node_name
    yield worker
    # A SIGTERM'd worker on a polling transport (the filesystem one) finishes two more
    # 2-second polls before it stops; the shutdown command stops it on arrival.
    celery_app.control.shutdown(destination=[node_name])
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.terminate()
        worker.wait(timeout=20)


@pytest.fixture
def subscribe_message_worker(celery_worker):
    """The session's worker sending buyers' subscribe messages during this test only.

    Their queue (settings_test.SUBSCRIBE_MESSAGE_QUEUE) holds what every earlier test's payments queued:
    emptied first, then consumed until the test ends.
    """
    from kombu import Queue

    from config import celery_app

    queue = settings.SUBSCRIBE_MESSAGE_QUEUE
    with celery_app.connection_for_write() as connection_:
        Queue(queue, routing_key=queue)(connection_.default_channel).declare()
        connection_.default_channel.queue_purge(queue)
    destination = [celery_worker.node_name]
    celery_app.control.add_consumer(queue, destination=destination, reply=True, timeout=5)
    yield celery_worker
    celery_app.control.cancel_consumer(queue, destination=destination, reply=True, timeout=5)


# WeChat payloads in WeChat's own formats, written for these tests (tests/fixtures/wechat/README.md).
WECHAT_FIXTURES_DIR = Path(__file__).parent / "fixtures" / "wechat"
# The project's shared folder, beside the repository as CI lays it out, holds the reference samples our
# fixtures are checked against; a clone alone does not have it.
SHARED_DIR = Path(os.environ.get("SHARED_DIR") or Path(settings.BASE_DIR).parent / "shared")


@pytest.fixture(scope="session")
def wechat_sample():
    """The bytes of a payload in tests/fixtures/wechat/: wechat_sample("massjobfinish-sample.xml")."""

    def read(name: str) -> bytes:
        return (WECHAT_FIXTURES_DIR / name).read_bytes()

    return read


@pytest.fixture(scope="session")
def wechat_reference_sample():
    """The bytes of a reference sample in the shared folder's wechat/; skipped without that folder, failed under CI."""
    folder = SHARED_DIR / "wechat"
    if not folder.is_dir():
        reason = f"the reference samples are not here ({folder}): the shared folder sits beside the repository"
        if IN_CI:
            pytest.fail(f"{reason}, and CI=true requires it (or set SHARED_DIR)", pytrace=False)
        pytest.skip(reason)

    def read(name: str) -> bytes:
        return (folder / name).read_bytes()

    return read
