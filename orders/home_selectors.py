"""Reads for the operations home page: today's takings, the work waiting, stock running out, reconciliation, sales.

Each selector runs a fixed number of queries whatever the number of orders, refunds or SKUs, so the
home page stays fast as the data grows (tests/orders/test_home_selectors.py counts them). Days are
Beijing calendar days, as in WeChat's bills.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncDate

from catalog.models import Sku
from orders.models import (
    DiscrepancyStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentStatus,
    ReconciliationRun,
    Refund,
    RefundStatus,
)

BEIJING = ZoneInfo("Asia/Shanghai")
# At or below this many left, a SKU on sale is shown as running out.
LOW_STOCK = 5
# An unpaid order expiring within this long is listed: a nudge may still save the sale.
EXPIRING_WITHIN = timedelta(minutes=30)
# Refunds that still take money back: a failed one gave nothing back.
REFUNDS_COUNTED = (RefundStatus.REQUESTED, RefundStatus.PROCESSING, RefundStatus.SUCCEEDED)
# Payments whose money was taken: a refund does not change a payment's status.
PAYMENTS_TAKEN = (PaymentStatus.PAID,)


def _beijing_day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), BEIJING)
    return start, start + timedelta(days=1)


@dataclass(frozen=True)
class TodayTakings:
    """Orders paid today (Beijing) and the money: taken, refunded today, and what is left."""

    paid_orders: int
    paid_fen: int
    refunded_fen: int

    @property
    def net_fen(self) -> int:
        return self.paid_fen - self.refunded_fen


def takings_today(*, at: datetime) -> TodayTakings:
    """Two queries. Refunds count on the day staff asked for them, whichever day the order was paid."""
    start, end = _beijing_day_bounds(at.astimezone(BEIJING).date())
    paid = Payment.objects.filter(status__in=PAYMENTS_TAKEN, paid_at__gte=start, paid_at__lt=end).aggregate(
        orders=Count("order_id", distinct=True), fen=Sum("amount_fen")
    )
    refunded = Refund.objects.filter(status__in=REFUNDS_COUNTED, created_at__gte=start, created_at__lt=end).aggregate(
        fen=Sum("amount_fen")
    )
    return TodayTakings(paid_orders=paid["orders"], paid_fen=paid["fen"] or 0, refunded_fen=refunded["fen"] or 0)


@dataclass(frozen=True)
class WorkWaiting:
    orders_to_ship: int
    refunds_waiting: int
    expiring_orders: int


def work_waiting(*, at: datetime) -> WorkWaiting:
    """Counts of what staff or WeChat still owe: one query each, never a row fetched."""
    return WorkWaiting(
        orders_to_ship=Order.objects.filter(status=OrderStatus.PAID).count(),
        refunds_waiting=Refund.objects.filter(status__in=(RefundStatus.REQUESTED, RefundStatus.PROCESSING)).count(),
        expiring_orders=orders_expiring_soon(at=at).count(),
    )


def orders_expiring_soon(*, at: datetime) -> QuerySet[Order]:
    """Unpaid orders whose time runs out within EXPIRING_WITHIN, soonest first."""
    return Order.objects.filter(
        status=OrderStatus.PENDING_PAYMENT, expires_at__gt=at, expires_at__lte=at + EXPIRING_WITHIN
    ).order_by("expires_at", "pk")


def skus_low_on_stock(*, limit: int = 10) -> QuerySet[Sku]:
    """SKUs of products on sale with LOW_STOCK or fewer left, emptiest first, with their product."""
    return (
        Sku.objects.filter(stock__lte=LOW_STOCK, product__is_active=True)
        .select_related("product")
        .order_by("stock", "product__title", "code")[:limit]
    )


def reconciliation_runs_latest(*, limit: int = 7) -> QuerySet[ReconciliationRun]:
    """The last `limit` runs, newest first, each annotated with `open_discrepancies` (one query)."""
    return ReconciliationRun.objects.annotate(
        open_discrepancies=Count("discrepancies", filter=Q(discrepancies__status=DiscrepancyStatus.OPEN))
    ).order_by("-started_at", "-pk")[:limit]


@dataclass(frozen=True)
class DailySales:
    """Per Beijing day of the period: money taken and money refunded, in fen."""

    days: list[date]
    paid_fen: list[int]
    refunded_fen: list[int]

    @property
    def net_fen(self) -> list[int]:
        return [paid - refunded for paid, refunded in zip(self.paid_fen, self.refunded_fen, strict=True)]


def sales_per_day(*, at: datetime, days: int = 30) -> DailySales:
    """The last `days` Beijing days up to `at`'s, in two queries."""
    today = at.astimezone(BEIJING).date()
    period = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    since = datetime.combine(period[0], time(), BEIJING)
    paid = dict(
        Payment.objects.filter(status__in=PAYMENTS_TAKEN, paid_at__gte=since)
        .annotate(day=TruncDate("paid_at", tzinfo=BEIJING))
        .values("day")
        .annotate(fen=Sum("amount_fen"))
        .values_list("day", "fen")
    )
    refunded = dict(
        Refund.objects.filter(status__in=REFUNDS_COUNTED, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=BEIJING))
        .values("day")
        .annotate(fen=Sum("amount_fen"))
        .values_list("day", "fen")
    )
    return DailySales(
        days=period,
        paid_fen=[paid.get(day, 0) for day in period],
        refunded_fen=[refunded.get(day, 0) for day in period],
    )
