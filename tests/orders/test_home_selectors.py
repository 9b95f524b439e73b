"""The operations home page's reads: Beijing days, refunds netted, and a query count that does not grow with data."""

from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from orders import home_selectors
from orders.models import Discrepancy, DiscrepancyStatus, OrderStatus, ReconciliationRun, RefundStatus
from orders.services.payments import PaidOutcome, payment_paid_record
from orders.services.reconciliation import BEIJING
from tests.factories import PaymentFactory, RefundFactory, SkuFactory
from tests.orders.reconciliation_helpers import order_of

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=BEIJING)


def paid(total_fen: int, *, at: datetime):
    order = order_of(total_fen)
    payment = PaymentFactory(order=order)
    outcome = payment_paid_record(
        out_trade_no=payment.out_trade_no,
        transaction_id=f"42{payment.pk:026d}",
        amount_fen=total_fen,
        paid_at=at,
        reason="payment notification",
    )
    assert outcome == PaidOutcome.APPLIED
    payment.refresh_from_db()
    return payment


def refunded(payment, amount_fen: int, *, at: datetime, status=RefundStatus.SUCCEEDED):
    refund = RefundFactory(payment=payment, amount_fen=amount_fen, status=status)
    type(refund).objects.filter(pk=refund.pk).update(created_at=at)
    return refund


def test_todays_takings_count_beijing_today_and_net_refunds_made_today():
    paid(39900, at=NOW - timedelta(hours=2))
    yesterdays = paid(10000, at=datetime(2026, 12, 3, 23, 59, tzinfo=BEIJING))  # Beijing yesterday
    paid(5000, at=datetime(2026, 12, 4, 0, 1, tzinfo=BEIJING))  # 16:01 UTC the day before: still today here
    refunded(yesterdays, 3000, at=NOW - timedelta(hours=1))
    refunded(yesterdays, 2000, at=NOW - timedelta(hours=1), status=RefundStatus.FAILED)  # gave nothing back

    takings = home_selectors.takings_today(at=NOW)

    assert (takings.paid_orders, takings.paid_fen, takings.refunded_fen) == (2, 44900, 3000)
    assert takings.net_fen == 41900


def test_work_waiting_counts_orders_to_ship_refunds_waiting_and_orders_about_to_expire():
    now = timezone.now()
    to_ship = paid(100, at=now)
    refunded(to_ship, 50, at=now, status=RefundStatus.PROCESSING)
    refunded(paid(200, at=now), 50, at=now, status=RefundStatus.SUCCEEDED)  # settled: not waiting
    expiring = order_of(300)
    expiring.__class__.objects.filter(pk=expiring.pk).update(expires_at=now + timedelta(minutes=10))
    later = order_of(400)
    later.__class__.objects.filter(pk=later.pk).update(expires_at=now + timedelta(hours=2))

    waiting = home_selectors.work_waiting(at=now)

    assert waiting.orders_to_ship == 2
    assert waiting.refunds_waiting == 1
    assert waiting.expiring_orders == 1
    assert [order.pk for order in home_selectors.orders_expiring_soon(at=now)] == [expiring.pk]
    assert expiring.status == OrderStatus.PENDING_PAYMENT


def test_low_stock_lists_skus_on_sale_at_or_under_the_limit_emptiest_first():
    SkuFactory(code="PLENTY", stock=home_selectors.LOW_STOCK + 1)
    SkuFactory(code="LOW", stock=home_selectors.LOW_STOCK)
    SkuFactory(code="EMPTY", stock=0)
    SkuFactory(code="OFF-SHELF", stock=0, product__is_active=False)

    assert [sku.code for sku in home_selectors.skus_low_on_stock()] == ["EMPTY", "LOW"]


def test_the_last_seven_runs_newest_first_with_their_open_discrepancies():
    runs = [
        ReconciliationRun.objects.create(
            bill_date=NOW.date() - timedelta(days=day),
            triggered_by="beat",
            status="succeeded",
            started_at=NOW - timedelta(days=day),
        )
        for day in range(1, 10)
    ]
    for status in (DiscrepancyStatus.OPEN, DiscrepancyStatus.OPEN, DiscrepancyStatus.RESOLVED):
        Discrepancy.objects.create(
            run=runs[0],
            last_seen_run=runs[0],
            bill_date=runs[0].bill_date,
            kind="missing_locally",
            problem_key=f"key-{status}-{Discrepancy.objects.count()}",
            status=status,
            resolved_at=NOW if status == DiscrepancyStatus.RESOLVED else None,
        )

    latest = list(home_selectors.reconciliation_runs_latest())

    assert [run.pk for run in latest] == [run.pk for run in runs[:7]]
    assert [run.open_discrepancies for run in latest[:2]] == [2, 0]


def test_sales_per_day_covers_thirty_beijing_days_net_of_refunds():
    today = paid(10000, at=NOW - timedelta(hours=1))
    paid(2500, at=NOW - timedelta(days=3))
    paid(9999, at=NOW - timedelta(days=40))  # before the period
    refunded(today, 4000, at=NOW)

    sales = home_selectors.sales_per_day(at=NOW)

    assert len(sales.days) == 30 and sales.days[-1] == NOW.date()
    assert sales.paid_fen[-1] == 10000 and sales.refunded_fen[-1] == 4000 and sales.net_fen[-1] == 6000
    assert sales.paid_fen[-4] == 2500
    assert sum(sales.paid_fen) == 12500


def _queries_of_every_selector() -> int:
    with CaptureQueriesContext(connection) as queries:
        home_selectors.takings_today(at=NOW)
        home_selectors.work_waiting(at=NOW)
        list(home_selectors.orders_expiring_soon(at=NOW)[:5])
        [sku.product.title for sku in home_selectors.skus_low_on_stock()]
        [run.open_discrepancies for run in home_selectors.reconciliation_runs_latest()]
        home_selectors.sales_per_day(at=NOW)
    return len(queries)


def test_the_query_count_does_not_grow_with_the_data():
    paid(100, at=NOW - timedelta(hours=1))
    SkuFactory(stock=1)
    few = _queries_of_every_selector()

    for day in range(12):
        refunded(paid(100 + day, at=NOW - timedelta(days=day)), 10, at=NOW - timedelta(days=day))
        SkuFactory(stock=day % 3)
        ReconciliationRun.objects.create(bill_date=NOW.date(), triggered_by="beat", status="succeeded", started_at=NOW)

    assert _queries_of_every_selector() == few
