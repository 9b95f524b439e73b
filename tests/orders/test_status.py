import itertools

import pytest
from django.contrib.auth import get_user_model

from orders.exceptions import OrderNotCancellable, OrderTransitionNotAllowed
from orders.models import Order, OrderActor, OrderEvent, OrderStatus
from orders.services.status import ALLOWED_TRANSITIONS, order_cancel, order_ship, order_transition

pytestmark = pytest.mark.django_db

S, A = OrderStatus, OrderActor

# Written out here, apart from the service's table, so a change to the table must be made twice on purpose.
EXPECTED_TRANSITIONS = {
    (S.PENDING_PAYMENT, S.PAID): {A.PAYMENT},
    (S.PENDING_PAYMENT, S.CANCELLED): {A.CUSTOMER, A.STAFF},
    (S.PENDING_PAYMENT, S.EXPIRED): {A.SYSTEM},
    (S.PAID, S.SHIPPED): {A.STAFF},
    (S.PAID, S.REFUNDING): {A.STAFF},
    (S.SHIPPED, S.COMPLETED): {A.CUSTOMER, A.STAFF, A.SYSTEM},
    (S.SHIPPED, S.REFUNDING): {A.STAFF},
    (S.COMPLETED, S.REFUNDING): {A.STAFF},
    (S.REFUNDING, S.REFUNDED): {A.PAYMENT},
    (S.REFUNDING, S.PARTIALLY_REFUNDED): {A.PAYMENT},
    (S.REFUNDING, S.PAID): {A.PAYMENT},
    (S.REFUNDING, S.SHIPPED): {A.PAYMENT},
    (S.REFUNDING, S.COMPLETED): {A.PAYMENT},
    (S.PARTIALLY_REFUNDED, S.SHIPPED): {A.STAFF},
    (S.PARTIALLY_REFUNDED, S.COMPLETED): {A.CUSTOMER, A.STAFF, A.SYSTEM},
    (S.PARTIALLY_REFUNDED, S.REFUNDING): {A.STAFF},
}
ALLOWED = sorted(
    (from_status, to_status, actor)
    for (from_status, to_status), actors in EXPECTED_TRANSITIONS.items()
    for actor in actors
)
REFUSED = sorted(
    (from_status, to_status, actor)
    for from_status, to_status, actor in itertools.product(S.values, S.values, A.values)
    if actor not in EXPECTED_TRANSITIONS.get((from_status, to_status), set())
)


@pytest.fixture
def order_in(sku, place_order):
    def make(status: str) -> Order:
        order = place_order([(sku, 2)])
        Order.objects.filter(pk=order.pk).update(status=status)  # set up the starting state only
        return order

    return make


def test_the_table_is_the_one_written_here():
    assert {key: set(actors) for key, actors in ALLOWED_TRANSITIONS.items()} == EXPECTED_TRANSITIONS


@pytest.mark.parametrize("from_status, to_status, actor", ALLOWED)
def test_allowed_transition_changes_status_and_appends_one_event(order_in, from_status, to_status, actor):
    order = order_in(from_status)
    events_before = order.events.count()

    changed = order_transition(order_id=order.pk, to_status=to_status, actor=actor, reason="because")

    changed.refresh_from_db()
    assert changed.status == to_status
    assert order.events.count() == events_before + 1
    event = order.events.latest("id")
    assert (event.from_status, event.to_status, event.actor, event.reason) == (from_status, to_status, actor, "because")


@pytest.mark.parametrize("from_status, to_status, actor", REFUSED)
def test_refused_transition_changes_nothing(order_in, from_status, to_status, actor):
    order = order_in(from_status)
    events_before = order.events.count()

    with pytest.raises(OrderTransitionNotAllowed):
        order_transition(order_id=order.pk, to_status=to_status, actor=actor)

    order.refresh_from_db()
    assert order.status == from_status
    assert order.events.count() == events_before


def test_paying_stamps_paid_at(order_in):
    order = order_in(S.PENDING_PAYMENT)

    paid = order_transition(order_id=order.pk, to_status=S.PAID, actor=A.PAYMENT)

    assert paid.paid_at is not None
    assert Order.objects.get(pk=order.pk).paid_at == paid.paid_at


@pytest.mark.parametrize("to_status, actor", [(S.CANCELLED, A.CUSTOMER), (S.EXPIRED, A.SYSTEM)])
def test_leaving_pending_payment_unpaid_returns_the_stock(sku, place_order, to_status, actor):
    order = place_order([(sku, 3)])
    sku.refresh_from_db()
    assert sku.stock == 7

    order_transition(order_id=order.pk, to_status=to_status, actor=actor)

    sku.refresh_from_db()
    assert sku.stock == 10


@pytest.mark.parametrize("to_status, actor", [(S.PAID, A.PAYMENT)])
def test_paying_keeps_the_stock_taken(sku, place_order, to_status, actor):
    order = place_order([(sku, 3)])

    order_transition(order_id=order.pk, to_status=to_status, actor=actor)

    sku.refresh_from_db()
    assert sku.stock == 7


def test_cancel_returns_stock_once_and_refuses_a_second_cancel(sku, place_order):
    order = place_order([(sku, 4)])

    order_cancel(order=order, actor=A.CUSTOMER, reason="changed my mind")
    with pytest.raises(OrderNotCancellable):
        order_cancel(order=order, actor=A.CUSTOMER)

    sku.refresh_from_db()
    assert sku.stock == 10
    assert list(order.events.values_list("to_status", flat=True)) == [S.PENDING_PAYMENT, S.CANCELLED]


def test_a_paid_order_cannot_be_cancelled(order_in):
    order = order_in(S.PAID)

    with pytest.raises(OrderNotCancellable):
        order_cancel(order=order, actor=A.CUSTOMER)


def test_shipping_records_carrier_tracking_and_the_staff_member(order_in):
    staff = get_user_model().objects.create_user(username="shipper", is_staff=True)
    order = order_in(S.PAID)

    shipped = order_ship(order=order, carrier="sf", tracking_number="SF1234567890", staff_user=staff)

    assert (shipped.status, shipped.carrier, shipped.tracking_number) == (S.SHIPPED, "sf", "SF1234567890")
    assert shipped.shipped_at is not None
    event = OrderEvent.objects.filter(order=order).latest("id")
    assert (event.actor, event.staff_user, event.reason) == (A.STAFF, staff, "顺丰速运 SF1234567890")
