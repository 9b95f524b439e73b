"""How many SQL round trips a payment notification costs on PostgreSQL, v2 and v3: counted, so one more fails here.

Each statement is one round trip, BEGIN and COMMIT included (a transaction=True test, so the
notification's own transaction is a real one, as in production). What a notification needs: the
merchant its message names (to verify it; each process keeps it a short while, so a repeat reads
it no more), then one statement, orders_payment_notification_apply
(orders' migration 0028), in autocommit: the order and payment read and locked, the payment's and
the order's transitions with their events, the notification stored and the sales count, all inside
PostgreSQL. A repeat takes the same call, which stops after the locked read and stores the copy.
Production's per-request health check of a kept connection (a `SELECT 1`, docs/deploy.md) is not
sent before it: the statement may run twice, so it checks only when it fails
(tests/orders/test_pay_notification_kept_connection.py).

The shared cache (Redis): an applied payment retires its products' cached detail answers and the
lists' (the detail and the lists show the sales count), one MSET after the commit; a repeat
changes nothing and sends nothing.
"""

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders.models import NotificationOutcome, Payment, PaymentNotification
from tests import real_services
from tests.caching import cache_round_trips
from tests.orders.payments import UNREACHABLE_NOTIFY_URL, notification_body, prepaid
from tests.orders.payments_v3 import v3_merchant_make_default

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]

# The function, first or repeated (a repeat stops after the locked read and stores the copy). Until
# 2026-12-06 a first notification made 8 (the merchant; BEGIN; the locked read; the payment's update
# with its event; the order's; the notification; the sales count; COMMIT), a repeat 5; 11 and 7 before.
NOTIFICATION_ROUND_TRIPS = 1
# The rows that verify it, read when the process has not kept them (wechat.merchants.PAY_MESSAGE_ROWS_SECONDS):
# v2 its Mini Program and merchant; v3 names its merchant only inside the ciphertext, so the merchant
# is found by the key that signed it, then the Mini Program the resource names is read on its own.
V2_MERCHANT_READS = 1
V3_MERCHANT_READS = 2
# The detail and list tokens in one MSET (a MULTI/EXEC of two SETs until 2026-12-06, second change;
# two SETs, each its own round trip, before the first).
APPLIED_CACHE_ROUND_TRIPS = ["MSET"]


@pytest.fixture(autouse=True)
def _postgresql():
    real_services.require(connection.vendor == "postgresql", "PostgreSQL as DATABASE_URL")


@pytest.fixture
def order(sku, place_order):
    return place_order([(sku, 2)])


def _statements(capture: CaptureQueriesContext) -> str:
    return "\n".join(query["sql"][:120] for query in capture.captured_queries)


def test_a_v2_notification_and_its_repeat(settings, sandbox, api, client, order):
    settings.WECHAT_PAY_NOTIFY_URL = UNREACHABLE_NOTIFY_URL
    payment = prepaid(api, order)
    body = notification_body(payment)

    cache.get("a connection open before counting")
    with CaptureQueriesContext(connection) as first, cache_round_trips() as first_cache:
        applied = client.generic("POST", "/wechat/pay/notify/", body, content_type="text/xml")
    with CaptureQueriesContext(connection) as again, cache_round_trips() as again_cache:
        repeated = client.generic("POST", "/wechat/pay/notify/", body, content_type="text/xml")

    assert b"SUCCESS" in applied.content and b"SUCCESS" in repeated.content
    assert list(PaymentNotification.objects.order_by("id").values_list("outcome", flat=True)) == [
        NotificationOutcome.APPLIED,
        NotificationOutcome.DUPLICATE,
    ]
    assert len(first) == V2_MERCHANT_READS + NOTIFICATION_ROUND_TRIPS, _statements(first)
    assert len(again) == NOTIFICATION_ROUND_TRIPS, _statements(again)
    assert (first_cache, again_cache) == (APPLIED_CACHE_ROUND_TRIPS, [])


def test_a_v3_notification_and_its_repeat(client, order):
    from wechat.merchants import mini_program_default

    wechatpay = v3_merchant_make_default()
    payment = Payment.objects.create(
        order=order,
        out_trade_no=f"{order.order_no}01",
        amount_fen=order.total_fen,
        sign_type="RSA",
        appid=mini_program_default().appid,
        mch_id=wechatpay.merchant.mch_id,
        prepay_id="wx2026112315030000000000000000",
    )
    body, headers = wechatpay.notification(wechatpay.transaction(payment))
    path = "/wechat/pay/v3/notify/"

    cache.get("a connection open before counting")
    with CaptureQueriesContext(connection) as first, cache_round_trips() as first_cache:
        applied = client.generic("POST", path, body, content_type="application/json", headers=headers)
    with CaptureQueriesContext(connection) as again, cache_round_trips() as again_cache:
        repeated = client.generic("POST", path, body, content_type="application/json", headers=wechatpay.headers(body))

    assert (applied.status_code, repeated.status_code) == (204, 204)
    assert list(PaymentNotification.objects.order_by("id").values_list("outcome", flat=True)) == [
        NotificationOutcome.APPLIED,
        NotificationOutcome.DUPLICATE,
    ]
    assert len(first) == V3_MERCHANT_READS + NOTIFICATION_ROUND_TRIPS, _statements(first)
    assert len(again) == NOTIFICATION_ROUND_TRIPS, _statements(again)
    assert (first_cache, again_cache) == (APPLIED_CACHE_ROUND_TRIPS, [])
