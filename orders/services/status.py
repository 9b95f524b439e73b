"""The one place an order's status changes: its allowed transitions over the shared status machine, and stock.

An order that leaves pending payment unpaid gives its reserved stock back here, once, whoever moves it.
"""

from collections.abc import Sequence

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Sku
from catalog.services import product_detail_cache_invalidate
from config.status_machine import StatusMachine
from orders.carriers import tracking_number_fits, tracking_number_normalize
from orders.exceptions import OrderNotCancellable, OrderTransitionNotAllowed, TrackingNumberInvalid
from orders.models import Carrier, Order, OrderActor, OrderEvent, OrderLine, OrderStatus
from orders.signals import order_status_entered

S, A = OrderStatus, OrderActor

# (from, to) -> who may make that change. Anything absent is refused.
ALLOWED_TRANSITIONS: dict[tuple[str, str], frozenset[str]] = {
    (S.PENDING_PAYMENT, S.PAID): frozenset({A.PAYMENT}),
    (S.PENDING_PAYMENT, S.CANCELLED): frozenset({A.CUSTOMER, A.STAFF}),
    (S.PENDING_PAYMENT, S.EXPIRED): frozenset({A.SYSTEM}),
    (S.PAID, S.SHIPPED): frozenset({A.STAFF}),
    (S.PAID, S.REFUNDING): frozenset({A.STAFF}),
    (S.SHIPPED, S.COMPLETED): frozenset({A.CUSTOMER, A.STAFF, A.SYSTEM}),
    (S.SHIPPED, S.REFUNDING): frozenset({A.STAFF}),
    (S.COMPLETED, S.REFUNDING): frozenset({A.STAFF}),
    (S.REFUNDING, S.REFUNDED): frozenset({A.PAYMENT}),
    (S.REFUNDING, S.PARTIALLY_REFUNDED): frozenset({A.PAYMENT}),
    # A refund WeChat refused, with nothing refunded before: the order is back where it was.
    (S.REFUNDING, S.PAID): frozenset({A.PAYMENT}),
    (S.REFUNDING, S.SHIPPED): frozenset({A.PAYMENT}),
    (S.REFUNDING, S.COMPLETED): frozenset({A.PAYMENT}),
    (S.PARTIALLY_REFUNDED, S.SHIPPED): frozenset({A.STAFF}),
    (S.PARTIALLY_REFUNDED, S.COMPLETED): frozenset({A.CUSTOMER, A.STAFF, A.SYSTEM}),
    (S.PARTIALLY_REFUNDED, S.REFUNDING): frozenset({A.STAFF}),
}

# Leaving pending payment without being paid gives the reserved stock back.
STOCK_RETURNING_STATUSES = frozenset({S.CANCELLED, S.EXPIRED})


def _order_entry_fields(to_status: str, reason: str) -> dict:
    return {"paid_at": timezone.now()} if to_status == S.PAID else {}


ORDER_STATUS = StatusMachine(
    model=Order,
    event_model=OrderEvent,
    transitions=ALLOWED_TRANSITIONS,
    refused=OrderTransitionNotAllowed,
    entry_fields=_order_entry_fields,
)


@transaction.atomic
def order_transition(
    *,
    order_id: int,
    to_status: str,
    actor: str,
    reason: str = "",
    staff_user: AbstractBaseUser | None = None,
) -> Order:
    """Move one order to `to_status` under a row lock, or raise OrderTransitionNotAllowed."""
    order = ORDER_STATUS.lock(order_id)
    order_status_set(order=order, to_status=to_status, actor=actor, reason=reason, staff_user=staff_user)
    return order


def order_status_set(
    *,
    order: Order,
    to_status: str,
    actor: str,
    reason: str = "",
    staff_user: AbstractBaseUser | None = None,
    extra_fields: dict | None = None,
) -> None:
    """Change a row the caller has locked in this transaction; the stock of a dropped order returns here."""
    ORDER_STATUS.change(
        order, to_status=to_status, actor=actor, reason=reason, staff_user=staff_user, fields=extra_fields
    )
    if to_status in STOCK_RETURNING_STATUSES:
        _stock_restore(order_ids=[order.pk])
    order_status_entered.send(sender=Order, order_ids=[order.pk], to_status=to_status)


def order_status_set_many(*, orders: Sequence[Order], to_status: str, actor: str, reason: str = "") -> None:
    """order_status_set for many orders the caller has locked: one update, one insert, one pass over the stock."""
    ORDER_STATUS.change_many(orders, to_status=to_status, actor=actor, reason=reason)
    if orders and to_status in STOCK_RETURNING_STATUSES:
        _stock_restore(order_ids=[order.pk for order in orders])
    if orders:
        order_status_entered.send(sender=Order, order_ids=[order.pk for order in orders], to_status=to_status)


def _stock_restore(*, order_ids: list[int]) -> None:
    # In SKU id order, as order_create takes them, so a restore and a create never deadlock:
    # restoring order by order could take SKU 5 then SKU 3 while an order_create holds 3 and waits for 5.
    quantities: dict[int, int] = {}
    product_ids: set[int] = set()
    lines = OrderLine.objects.filter(order_id__in=order_ids).values_list("sku_id", "sku__product_id", "quantity")
    for sku_id, product_id, quantity in lines:
        quantities[sku_id] = quantities.get(sku_id, 0) + quantity
        product_ids.add(product_id)
    product_detail_cache_invalidate(product_ids=product_ids)
    for sku_id in sorted(quantities):
        Sku.objects.filter(pk=sku_id).update(stock=F("stock") + quantities[sku_id])


@transaction.atomic
def order_cancel(*, order: Order, actor: str, reason: str = "", staff_user: AbstractBaseUser | None = None) -> Order:
    """Cancel an order awaiting payment and return its stock; a second cancel is refused and returns nothing."""
    locked = ORDER_STATUS.lock(order.pk)
    try:
        order_status_set(order=locked, to_status=S.CANCELLED, actor=actor, reason=reason, staff_user=staff_user)
    except OrderTransitionNotAllowed as error:
        raise OrderNotCancellable() from error
    return locked


@transaction.atomic
def order_ship(*, order: Order, carrier: str, tracking_number: str, staff_user: AbstractBaseUser) -> Order:
    """Ship a paid order: carrier and tracking number recorded, the change on its timeline.

    Raises TrackingNumberInvalid for a number not in the carrier's format, OrderTransitionNotAllowed
    for an order not paid (or shipped already).
    """
    tracking_number = tracking_number_normalize(tracking_number)
    if not tracking_number_fits(carrier=carrier, tracking_number=tracking_number):
        raise TrackingNumberInvalid(carrier_name=Carrier(carrier).label, tracking_number=tracking_number)
    locked = ORDER_STATUS.lock(order.pk)
    order_status_set(
        order=locked,
        to_status=S.SHIPPED,
        actor=A.STAFF,
        staff_user=staff_user,
        reason=f"{Carrier(carrier).label} {tracking_number}",
        extra_fields={"carrier": carrier, "tracking_number": tracking_number, "shipped_at": timezone.now()},
    )
    return locked
