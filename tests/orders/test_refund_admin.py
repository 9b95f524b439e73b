"""The order's refund page in the admin: amounts in yuan parsed to fen exactly, over-amounts as form errors."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from orders.models import Order, OrderActor, OrderStatus, Payment, Refund
from orders.services.refunds import refund_request
from orders.services.status import order_transition
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(client, django_user_model):
    def logged_in(group_name: str):
        user = django_user_model.objects.create_user(username=group_name.lower(), is_staff=True)
        user.groups.add(Group.objects.get(name=group_name))
        client.force_login(user)
        return user

    return logged_in


@pytest.fixture
def payment(sku, place_order) -> Payment:
    order = place_order([(sku, 1)])  # ¥39.90
    order_transition(order_id=order.pk, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT)
    return PaymentFactory(
        order=order, status="paid", transaction_id="4200002026112412345678901234", paid_at=timezone.now()
    )


def refund_url(payment: Payment) -> str:
    return reverse("admin:orders_order_refund", args=[payment.order_id])


def test_the_order_page_links_to_the_refund_page_which_shows_paid_and_refunded(client, staff, payment):
    staff("Operations")
    refund_request(payment_id=payment.pk, amount_fen=1000, reason="chipped", staff_user=None)

    order_page = client.get(reverse("admin:orders_order_change", args=[payment.order_id])).content.decode()
    page = client.get(refund_url(payment)).content.decode()

    assert refund_url(payment) in order_page
    assert '<td class="paid">¥39.90</td>' in page
    assert '<td class="refunded">¥10.00</td>' in page
    assert '<td class="refundable">¥29.90</td>' in page
    assert f"{payment.out_trade_no}R01" in page


def test_a_partial_refund_in_yuan_is_requested_in_fen_by_the_staff_member(client, staff, payment):
    operator = staff("Operations")

    response = client.post(refund_url(payment), {"kind": "partial", "amount_yuan": "12.50", "reason": "one broken"})

    assert response.status_code == 302
    refund = Refund.objects.get()
    assert (refund.amount_fen, refund.reason, refund.requested_by) == (1250, "one broken", operator)
    order = Order.objects.get(pk=payment.order_id)
    assert order.status == OrderStatus.REFUNDING
    assert order.events.latest("id").staff_user == operator


def test_a_full_refund_refunds_what_is_left(client, staff, payment):
    staff("Operations")
    refund_request(payment_id=payment.pk, amount_fen=990, reason="first", staff_user=None)

    client.post(refund_url(payment), {"kind": "full", "reason": "returned"})

    assert sorted(Refund.objects.values_list("amount_fen", flat=True)) == [990, 3000]
    payment.refresh_from_db()
    assert payment.refunded_fen == 3990


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "partial", "amount_yuan": "39.91", "reason": "x"}, "At most ¥39.90 is left to refund."),
        ({"kind": "partial", "amount_yuan": "1.005", "reason": "x"}, "no more than 2 decimal places"),
        ({"kind": "partial", "amount_yuan": "0", "reason": "x"}, "greater than or equal to 0.01"),
        ({"kind": "partial", "amount_yuan": "", "reason": "x"}, "Enter the amount of a partial refund."),
        ({"kind": "partial", "amount_yuan": "1", "reason": ""}, "This field is required."),
    ],
    ids=["over the amount", "fraction of a fen", "zero", "no amount", "no reason"],
)
def test_bad_input_is_a_form_error_and_refunds_nothing(client, staff, payment, data, message):
    staff("Operations")

    response = client.post(refund_url(payment), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Refund.objects.exists()


def test_an_unpaid_order_has_nothing_to_refund(client, staff, sku, place_order):
    staff("Operations")
    order = place_order([(sku, 1)])

    response = client.post(reverse("admin:orders_order_refund", args=[order.pk]), {"kind": "full", "reason": "x"})

    assert "no paid payment to refund" in response.content.decode()
    assert not Refund.objects.exists()


def test_an_unpaid_orders_refund_page_says_so_instead_of_failing(client, staff, sku, place_order):
    """Opening the page (a GET) put the refusal on an unbound form: a server error."""
    staff("Operations")
    order = place_order([(sku, 1)])

    response = client.get(reverse("admin:orders_order_refund", args=[order.pk]))

    assert response.status_code == 200
    assert "no paid payment to refund" in response.content.decode()
    assert "Refund through WeChat Pay" not in response.content.decode()


def test_marketing_may_not_refund(client, staff, payment):
    staff("Marketing")

    assert client.get(refund_url(payment)).status_code == 403
    assert client.post(refund_url(payment), {"kind": "full", "reason": "x"}).status_code == 403
    assert not Refund.objects.exists()


def test_refunds_are_listed_read_only(client, staff, payment):
    staff("Operations")
    refund = refund_request(payment_id=payment.pk, amount_fen=1000, reason="chipped", staff_user=None)

    listing = client.get(reverse("admin:orders_refund_changelist"))
    detail = client.get(reverse("admin:orders_refund_change", args=[refund.pk]))

    assert listing.status_code == detail.status_code == 200
    assert refund.out_refund_no in listing.content.decode() and "¥10.00" in listing.content.decode()
    assert 'name="_save"' not in detail.content.decode()
    assert client.get(reverse("admin:orders_refund_add")).status_code == 403
