"""Customers as people for staff: their phone from their addresses, and their orders' money, in one query.

Each figure is a correlated subquery rather than a join, so one customer's many orders, payments and
addresses never multiply another figure's rows; a changelist page is one query whatever its size.
"""

from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from customers.models import Customer
from orders.models import Address, Order, Payment, PaymentStatus, Refund
from orders.stock_and_sales import REFUNDS_COUNTED


def _sum_per_customer(queryset: QuerySet, customer_path: str, amount_field: str) -> Coalesce:
    totals = (
        queryset.filter(**{customer_path: OuterRef("pk")})
        .order_by()
        .values(customer_path)
        .annotate(total=Sum(amount_field))
        .values("total")
    )
    return Coalesce(Subquery(totals, output_field=IntegerField()), Value(0))


def customers_with_order_totals(*, customers: QuerySet[Customer]) -> QuerySet[Customer]:
    """`customers` with `phone` (the default address's, else the newest), `order_count`, `last_order_at`,
    `spent_fen` (payments taken) and `refunded_fen` (refunds not failed)."""
    addresses = Address.objects.filter(customer=OuterRef("pk")).order_by("-is_default", "-created_at", "-id")
    orders = Order.objects.filter(customer=OuterRef("pk")).order_by().values("customer")
    return customers.annotate(
        phone=Subquery(addresses.values("phone")[:1]),
        order_count=Coalesce(Subquery(orders.annotate(count=Count("pk")).values("count")), Value(0)),
        last_order_at=Subquery(
            Order.objects.filter(customer=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
        ),
        spent_fen=_sum_per_customer(Payment.objects.filter(status=PaymentStatus.PAID), "order__customer", "amount_fen"),
        refunded_fen=_sum_per_customer(
            Refund.objects.filter(status__in=REFUNDS_COUNTED), "payment__order__customer", "amount_fen"
        ),
    )
