"""A payment's status through its status service: every move of the table, each with its event; refusals without."""

import itertools
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from orders.exceptions import PaymentTransitionNotAllowed
from orders.models import Order, OrderActor, Payment, PaymentEvent, PaymentStatus
from orders.services.expiry import orders_expire_overdue
from orders.services.payment_status import PAYMENT_STATUS, PAYMENT_TRANSITIONS
from orders.services.payments import PaidOutcome, payment_paid_record
from tests.factories import PaymentFactory
from tests.orders.payments import UNREACHABLE_NOTIFY_URL, aged_past_close_limit, prepaid

pytestmark = pytest.mark.django_db

P, A = PaymentStatus, OrderActor

# Written out here, apart from the service's table, so a change to the table must be made twice on purpose.
EXPECTED_TRANSITIONS = {
    (P.PENDING, P.PAID),
    (P.FAILED, P.PAID),
    (P.PENDING, P.CLOSED),
    (P.FAILED, P.CLOSED),
    (P.PENDING, P.FAILED),
}
REFUSED = sorted(set(itertools.product(P.values, repeat=2)) - EXPECTED_TRANSITIONS)


@pytest.fixture
def payment_in(sku, place_order):
    def make(status: str) -> Payment:
        payment = PaymentFactory(order=place_order([(sku, 1)]))
        Payment.objects.filter(pk=payment.pk).update(status=status)  # set up the starting state only
        payment.refresh_from_db()
        return payment

    return make


def test_the_table_is_the_one_written_here():
    assert set(PAYMENT_TRANSITIONS) == EXPECTED_TRANSITIONS


@pytest.mark.parametrize(("from_status", "to_status"), sorted(EXPECTED_TRANSITIONS))
def test_an_allowed_move_appends_one_event_with_who_and_why(payment_in, from_status, to_status):
    payment = payment_in(from_status)

    PAYMENT_STATUS.transition(pk=payment.pk, to_status=to_status, actor=A.SYSTEM, reason="because")

    assert Payment.objects.get(pk=payment.pk).status == to_status
    [event] = PaymentEvent.objects.filter(payment=payment)
    assert (event.from_status, event.to_status, event.actor, event.reason) == (
        from_status,
        to_status,
        A.SYSTEM,
        "because",
    )


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_a_refused_move_raises_and_appends_nothing(payment_in, from_status, to_status):
    payment = payment_in(from_status)

    with pytest.raises(PaymentTransitionNotAllowed) as refused:
        PAYMENT_STATUS.transition(pk=payment.pk, to_status=to_status, actor=A.SYSTEM)

    assert (refused.value.from_status, refused.value.to_status) == (from_status, to_status)
    assert Payment.objects.get(pk=payment.pk).status == from_status
    assert not PaymentEvent.objects.filter(payment=payment).exists()


def test_paying_records_the_payment_services_event_with_the_fields(payment_in):
    payment = payment_in(P.PENDING)

    outcome = payment_paid_record(
        out_trade_no=payment.out_trade_no,
        transaction_id="4200002026112312345678901234",
        amount_fen=payment.amount_fen,
        paid_at=timezone.now(),
        reason="WeChat Pay payment notification",
    )

    assert outcome == PaidOutcome.APPLIED
    payment.refresh_from_db()
    assert (payment.status, payment.transaction_id) == (P.PAID, "4200002026112312345678901234")
    [event] = PaymentEvent.objects.filter(payment=payment)
    assert (event.from_status, event.to_status, event.actor, event.reason) == (
        P.PENDING,
        P.PAID,
        A.PAYMENT,
        "WeChat Pay payment notification",
    )


def test_a_duplicate_payment_appends_no_second_event(payment_in):
    payment = payment_in(P.PENDING)
    for _ in range(2):
        payment_paid_record(
            out_trade_no=payment.out_trade_no,
            transaction_id="4200002026112312345678901234",
            amount_fen=payment.amount_fen,
            paid_at=timezone.now(),
            reason="notification",
        )

    assert PaymentEvent.objects.filter(payment=payment).count() == 1


def test_asking_to_pay_starts_the_timeline_and_expiry_closes_it(sandbox, api, sku, place_order, settings):
    settings.WECHAT_PAY_NOTIFY_URL = UNREACHABLE_NOTIFY_URL
    order = place_order([(sku, 1)])
    payment = aged_past_close_limit(sandbox, prepaid(api, order))
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert orders_expire_overdue() == 1

    assert list(PaymentEvent.objects.filter(payment=payment).values_list("from_status", "to_status", "actor")) == [
        ("", P.PENDING, A.CUSTOMER),
        (P.PENDING, P.CLOSED, A.SYSTEM),
    ]


def test_operations_read_a_payments_timeline_on_its_page(client, django_user_model, payment_in):
    operator = django_user_model.objects.create_user(username="operator", is_staff=True)
    operator.groups.add(Group.objects.get(name="Operations"))
    client.force_login(operator)
    payment = payment_in(P.PENDING)
    PAYMENT_STATUS.transition(pk=payment.pk, to_status=P.FAILED, actor=A.PAYMENT, reason="unified order refused")

    response = client.get(reverse("admin:orders_payment_change", args=[payment.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "timeline" in page.lower()
    assert "unified order refused" in page
    assert 'name="_save"' not in page
