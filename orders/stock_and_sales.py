"""Stock beside what orders hold and sold, per SKU: the stock-and-sales list's one query.

Revenue is net of refunds. A refund is asked for a payment, not a line, so an order's refunds are
shared among its lines by their part of the order's total (a single-line order's line carries the
whole refund). Integer fen, rounded down per line: a multi-line order can show a fen or two more
than it kept.
"""

from django.db.models import F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from orders.models import OrderLine, OrderStatus, Refund, RefundStatus

# Statuses in which the customer has paid and the goods count as sold.
SOLD_STATUSES = [
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.COMPLETED,
    OrderStatus.REFUNDING,
    OrderStatus.PARTIALLY_REFUNDED,
]
# Orders whose money was taken at some point: a fully refunded one nets to nothing.
REVENUE_STATUSES = [*SOLD_STATUSES, OrderStatus.REFUNDED]
# Refunds that take money back: a failed one gave nothing back (as on the operations home page).
REFUNDS_COUNTED = (RefundStatus.REQUESTED, RefundStatus.PROCESSING, RefundStatus.SUCCEEDED)


def _refunded_share_per_sku() -> Subquery:
    order_refunded = (
        Refund.objects.filter(payment__order=OuterRef("order"), status__in=REFUNDS_COUNTED)
        .values("payment__order")
        .annotate(fen=Sum("amount_fen"))
        .values("fen")
    )
    shares = (
        OrderLine.objects.filter(sku=OuterRef("pk"), order__status__in=REVENUE_STATUSES)
        .annotate(order_refunded_fen=Coalesce(Subquery(order_refunded), 0))
        .values("sku")
        .annotate(fen=Sum(F("subtotal_fen") * F("order_refunded_fen") / F("order__total_fen")))
        .values("fen")
    )
    return Subquery(shares)


def skus_with_stock_and_sales(*, skus: QuerySet) -> QuerySet:
    """`skus` annotated with units_awaiting_payment, units_sold and revenue_fen (net of refunds), in one query."""
    return skus.annotate(
        units_awaiting_payment=Coalesce(
            Sum("order_lines__quantity", filter=Q(order_lines__order__status=OrderStatus.PENDING_PAYMENT)), 0
        ),
        units_sold=Coalesce(Sum("order_lines__quantity", filter=Q(order_lines__order__status__in=SOLD_STATUSES)), 0),
        gross_revenue_fen=Coalesce(
            Sum("order_lines__subtotal_fen", filter=Q(order_lines__order__status__in=REVENUE_STATUSES)), 0
        ),
        refunded_fen=Coalesce(_refunded_share_per_sku(), 0),
    ).annotate(revenue_fen=F("gross_revenue_fen") - F("refunded_fen"))
