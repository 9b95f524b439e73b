"""A refund's status through its status service: every pair, allowed ones with one event, the rest refused."""

import itertools

import pytest
from django.db import transaction

from orders.exceptions import RefundTransitionNotAllowed
from orders.models import OrderActor, Refund, RefundEvent, RefundStatus
from orders.services.refund_status import ALLOWED_TRANSITIONS, refund_requested_record, refund_status_set
from tests.factories import PaymentFactory, RefundFactory

pytestmark = pytest.mark.django_db

R = RefundStatus

# Written out here, apart from the service's table, so a change to the table must be made twice on purpose.
EXPECTED_TRANSITIONS = {
    (R.REQUESTED, R.PROCESSING),
    (R.REQUESTED, R.SUCCEEDED),
    (R.REQUESTED, R.FAILED),
    (R.PROCESSING, R.SUCCEEDED),
    (R.PROCESSING, R.FAILED),
}
ALL_PAIRS = sorted(itertools.product(R.values, repeat=2))


@pytest.fixture
def refund_in(sku, place_order):
    def make(status: str) -> Refund:
        return RefundFactory(payment=PaymentFactory(order=place_order([(sku, 1)])), status=status)

    return make


def test_the_table_is_the_one_written_here():
    assert set(ALLOWED_TRANSITIONS) == EXPECTED_TRANSITIONS


@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS)
def test_every_pair_is_changed_with_one_event_or_refused_with_none(refund_in, from_status, to_status):
    refund = refund_in(from_status)

    with transaction.atomic():
        locked = Refund.objects.select_for_update().get(pk=refund.pk)
        if (from_status, to_status) in EXPECTED_TRANSITIONS:
            refund_status_set(refund=locked, to_status=to_status, reason="because")
        else:
            with pytest.raises(RefundTransitionNotAllowed) as refused:
                refund_status_set(refund=locked, to_status=to_status, reason="because")
            assert (refused.value.from_status, refused.value.to_status) == (from_status, to_status)

    refund.refresh_from_db()
    events = list(RefundEvent.objects.filter(refund=refund).values_list("from_status", "to_status", "actor", "reason"))
    if (from_status, to_status) in EXPECTED_TRANSITIONS:
        assert refund.status == to_status
        assert events == [(from_status, to_status, OrderActor.PAYMENT, "because")]
        assert (refund.settled_at is not None) == (to_status in (R.SUCCEEDED, R.FAILED))
    else:
        assert refund.status == from_status
        assert events == []


def test_a_request_is_the_staff_members_first_event(refund_in, admin_user):
    refund = refund_in(R.REQUESTED)

    refund_requested_record(refund=refund, reason="chipped", staff_user=admin_user)

    event = RefundEvent.objects.get(refund=refund)
    assert (event.from_status, event.to_status, event.actor, event.staff_user, event.reason) == (
        "",
        R.REQUESTED,
        OrderActor.STAFF,
        admin_user,
        "chipped",
    )
