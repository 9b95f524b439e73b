"""A payment notification on the thread's kept PostgreSQL connection: no health check first, and a restart fails none.

Production checks a kept connection with a `SELECT 1` as a request first uses it (docs/deploy.md).
A notification's one statement may safely run twice, so it runs without that check and checks only
when it fails (config/idempotent_statements.py): a connection the database dropped (a restart,
here its backend terminated) is replaced and the statement run again, applied once.
"""

import psycopg
import pytest
from django.conf import settings
from django.db import connection, connections

from orders.models import NotificationOutcome, OrderStatus, PaymentNotification
from tests import real_services
from tests.orders.payments import UNREACHABLE_NOTIFY_URL, notification_body, prepaid

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgresql(settings):
    real_services.require(connection.vendor == "postgresql", "PostgreSQL as DATABASE_URL")
    settings.WECHAT_PAY_NOTIFY_URL = UNREACHABLE_NOTIFY_URL


@pytest.fixture
def health_checks(monkeypatch):
    """The connection's health checks (Django's is_usable, still run), counted; the next request's check due."""
    checks = []
    is_usable = connection.is_usable

    def counted() -> bool:
        checks.append(True)
        return is_usable()

    # On the thread's connection itself: a setattr on django.db.connection (a proxy) is not undone cleanly.
    wrapper = connections["default"]
    monkeypatch.setattr(wrapper, "is_usable", counted)
    monkeypatch.setattr(wrapper, "health_check_enabled", True)
    return checks


def _new_request() -> None:
    # What Django does at each request's start (close_old_connections), which the test client leaves out.
    connection.health_check_done = False


def _body(payment) -> bytes:
    return notification_body(payment, transaction_id=f"42000020261123{payment.pk:014d}")


def _post(client, body: bytes) -> bytes:
    return client.generic("POST", "/wechat/pay/notify/", body, content_type="text/xml").content


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_a_notification_sends_no_health_check_before_its_statement(
    sandbox, api, client, sku, place_order, health_checks
):
    warm, payment = prepaid(api, place_order([(sku, 1)])), prepaid(api, place_order([(sku, 2)]))
    assert b"SUCCESS" in _post(client, _body(warm))  # the merchant's rows kept: the statement is the request's only one
    body = _body(payment)  # read before the request: the statement is the request's only query
    _new_request()
    checks_before = len(health_checks)

    assert b"SUCCESS" in _post(client, body)

    assert len(health_checks) == checks_before
    payment.order.refresh_from_db()
    assert payment.order.status == OrderStatus.PAID


def test_a_notification_on_a_connection_the_database_dropped_is_applied_once(
    sandbox, api, client, sku, place_order, health_checks
):
    warm, payment = prepaid(api, place_order([(sku, 1)])), prepaid(api, place_order([(sku, 2)]))
    assert b"SUCCESS" in _post(client, _body(warm))
    body = _body(payment)
    dropped = _backend_pid()
    database = settings.DATABASES["default"]
    with psycopg.connect(
        host=database["HOST"] or "127.0.0.1",
        port=database["PORT"] or 5432,
        user=database["USER"],
        password=database["PASSWORD"],
        dbname=database["NAME"],
        autocommit=True,
    ) as other:
        # As a restart does to every kept connection.
        other.execute("SELECT pg_terminate_backend(%s)", [dropped])
    _new_request()

    assert b"SUCCESS" in _post(client, body)

    assert _backend_pid() != dropped
    assert health_checks, "the failed statement's connection was checked"
    assert list(
        PaymentNotification.objects.filter(out_trade_no=payment.out_trade_no).values_list("outcome", flat=True)
    ) == [NotificationOutcome.APPLIED]
    payment.order.refresh_from_db()
    assert payment.order.status == OrderStatus.PAID
