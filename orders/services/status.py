"""The one place an order's status changes: allowed transitions as data, a row lock, an event row each time."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Sku
from catalog.services import product_detail_cache_invalidate
from orders.exceptions import OrderNotCancellable, OrderTransitionNotAllowed
from orders.models import Carrier, Order, OrderActor, OrderEvent, OrderLine, OrderStatus, Payment, PaymentStatus

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


def order_transition_allowed(*, from_status: str, to_status: str, actor: str) -> bool:
    return actor in ALLOWED_TRANSITIONS.get((from_status, to_status), frozenset())


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
    order = Order.objects.select_for_update().get(pk=order_id)
    _order_status_set(order=order, to_status=to_status, actor=actor, reason=reason, staff_user=staff_user)
    return order


def _order_status_set(
    *,
    order: Order,
    to_status: str,
    actor: str,
    reason: str = "",
    staff_user: AbstractBaseUser | None = None,
    extra_fields: dict | None = None,
) -> None:
    """Change a row the caller has locked in this transaction; the stock of a dropped order returns here."""
    if not order_transition_allowed(from_status=order.status, to_status=to_status, actor=actor):
        raise OrderTransitionNotAllowed(from_status=order.status, to_status=to_status, actor=actor)
    from_status = order.status
    order.status = to_status
    update_fields = ["status"]
    if to_status == S.PAID:
        order.paid_at = timezone.now()
        update_fields.append("paid_at")
    for name, value in (extra_fields or {}).items():
        setattr(order, name, value)
        update_fields.append(name)
    order.save(update_fields=update_fields)
    OrderEvent.objects.create(
        order=order, from_status=from_status, to_status=to_status, actor=actor, reason=reason, staff_user=staff_user
    )
    if to_status in STOCK_RETURNING_STATUSES:
        _stock_restore(order_ids=[order.pk])


def _stock_restore(*, order_ids: list[int]) -> None:
    # In SKU id order, as order_create takes them, so a restore and a create never deadlock.
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
    locked = Order.objects.select_for_update().get(pk=order.pk)
    try:
        _order_status_set(order=locked, to_status=S.CANCELLED, actor=actor, reason=reason, staff_user=staff_user)
    except OrderTransitionNotAllowed as error:
        raise OrderNotCancellable() from error
    return locked


@transaction.atomic
def order_ship(*, order: Order, carrier: str, tracking_number: str, staff_user: AbstractBaseUser) -> Order:
    locked = Order.objects.select_for_update().get(pk=order.pk)
    _order_status_set(
        order=locked,
        to_status=S.SHIPPED,
        actor=A.STAFF,
        staff_user=staff_user,
        reason=f"{Carrier(carrier).label} {tracking_number}",
        extra_fields={"carrier": carrier, "tracking_number": tracking_number, "shipped_at": timezone.now()},
    )
    return locked


EXPIRY_BATCH_SIZE = 100
EXPIRY_MAX_BATCHES = 50


def orders_expire_overdue(*, batch_size: int = EXPIRY_BATCH_SIZE, max_batches: int = EXPIRY_MAX_BATCHES) -> int:
    """Expire unpaid orders past their deadline and return their stock; returns how many expired.

    Each batch is its own short transaction and skips rows another run (or a cancel, or a
    payment) holds, so runs overlap safely and none waits on another. Orders that never
    reached WeChat Pay expire in the batch; those with a payment at WeChat are asked about
    first and closed there, outside any transaction, so one paid at the last second is marked
    paid, never expired. What is left after `max_batches` waits for the next run.
    """
    # Imported here: the payment services build on this module's status changes.
    from orders.services.payments import Settlement, order_payments_close_at_wechat

    expired = 0
    asked_wechat: set[int] = set()  # orders this run has settled at WeChat (or must retry next run)
    for _ in range(max_batches):
        claimed, expired_in_batch, at_wechat = _orders_expire_batch(batch_size=batch_size, skip_ids=asked_wechat)
        expired += expired_in_batch
        for order_id in at_wechat:
            asked_wechat.add(order_id)
            if order_payments_close_at_wechat(order_id=order_id) == Settlement.CLOSED:
                expired += _order_expire_closed(order_id=order_id)
        if claimed < batch_size:
            break
    return expired


@transaction.atomic
def _orders_expire_batch(*, batch_size: int, skip_ids: set[int]) -> tuple[int, int, list[int]]:
    """Claim a batch of overdue orders: expire those with no payment open at WeChat, return the others' ids.

    Returns (claimed, expired, ids of orders to settle at WeChat first).
    """
    # The batch's status changes in three statements, not three per order, and its stock
    # returns in one pass in SKU id order: restoring order by order could take SKU 5 then
    # SKU 3 while an order_create holds 3 and waits for 5.
    overdue = list(
        Order.objects.select_for_update(skip_locked=True)
        .filter(status=S.PENDING_PAYMENT, expires_at__lte=timezone.now())
        .exclude(pk__in=skip_ids)
        .order_by("expires_at", "id")[:batch_size]
    )
    at_wechat = set(
        Payment.objects.filter(
            order_id__in=[order.pk for order in overdue], status__in=[PaymentStatus.PENDING, PaymentStatus.FAILED]
        ).values_list("order_id", flat=True)
    )
    now = timezone.now()
    events = []
    expiring = [order for order in overdue if order.pk not in at_wechat]
    for order in expiring:
        if not order_transition_allowed(from_status=order.status, to_status=S.EXPIRED, actor=A.SYSTEM):
            raise OrderTransitionNotAllowed(from_status=order.status, to_status=S.EXPIRED, actor=A.SYSTEM)
        events.append(
            OrderEvent(
                order=order,
                from_status=order.status,
                to_status=S.EXPIRED,
                actor=A.SYSTEM,
                reason="not paid in time",
                at=now,
            )
        )
    if expiring:
        order_ids = [order.pk for order in expiring]
        Order.objects.filter(pk__in=order_ids).update(status=S.EXPIRED)
        OrderEvent.objects.bulk_create(events)
        _stock_restore(order_ids=order_ids)
    return len(overdue), len(expiring), [order.pk for order in overdue if order.pk in at_wechat]


@transaction.atomic
def _order_expire_closed(*, order_id: int) -> int:
    """Expire one order whose payments are closed at WeChat; 0 if a payment or a cancel came first."""
    order = Order.objects.select_for_update().get(pk=order_id)
    still_open = order.payments.filter(status__in=[PaymentStatus.PENDING, PaymentStatus.FAILED]).exists()
    if order.status != S.PENDING_PAYMENT or order.expires_at > timezone.now() or still_open:
        return 0
    _order_status_set(order=order, to_status=S.EXPIRED, actor=A.SYSTEM, reason="not paid in time; closed at WeChat Pay")
    return 1
