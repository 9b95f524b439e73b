import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from orders.models import (
    NotificationOutcome,
    Order,
    OrderActor,
    OrderStatus,
    PaymentNotification,
    PaymentStatus,
    RefundStatus,
)
from orders.services.status import order_transition
from tests.admin_pages import changelist_cells
from tests.factories import AddressFactory, CustomerFactory, PaymentFactory, RefundFactory, SkuFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_user(username="ops", is_staff=True)
    user.groups.add(Group.objects.get(name="Operations"))
    client.force_login(user)
    return user


@pytest.fixture
def paid_order(sku, place_order):
    order = place_order([(sku, 2)])
    return order_transition(order_id=order.pk, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT)


def _changelist(client, **query):
    return client.get(reverse("admin:orders_order_changelist"), query)


def test_the_order_list_filters_by_status_and_payment(client, operator, sku, place_order, paid_order):
    unpaid = place_order([(sku, 1)])

    by_status = _changelist(client, status__exact="paid").content.decode()
    unpaid_only = _changelist(client, paid="no").content.decode()

    assert paid_order.order_no in by_status and unpaid.order_no not in by_status
    assert reverse("admin:orders_order_ship", args=[paid_order.pk]) in by_status
    assert unpaid.order_no in unpaid_only and paid_order.order_no not in unpaid_only


@pytest.mark.parametrize("field", ["order_no", "phone", "openid"])
def test_the_order_list_searches_order_number_phone_and_openid(client, operator, sku, place_order, field):
    other = CustomerFactory(openid="o-findme")
    wanted = place_order([(sku, 1)], buyer=other, to_address=AddressFactory(customer=other, phone="13700001111"))
    unwanted = place_order([(sku, 1)])
    term = {"order_no": wanted.order_no, "phone": "13700001111", "openid": "o-findme"}[field]

    page = _changelist(client, q=term).content.decode()

    assert wanted.order_no in page
    assert unwanted.order_no not in page


def test_the_order_list_runs_in_bounded_queries(client, operator, sku, place_order, django_assert_max_num_queries):
    sku.stock = 100
    sku.save()
    for _ in range(30):
        place_order([(sku, 1)])

    # Session, user, permissions, the date hierarchy, the page of orders with customers, a count.
    with django_assert_max_num_queries(8):
        assert _changelist(client).status_code == 200


def test_the_order_page_is_read_only_with_lines_and_timeline(client, operator, paid_order):
    response = client.get(reverse("admin:orders_order_change", args=[paid_order.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Ceramic mug" in page and "¥79.80" in page
    assert "pending_payment" in page or "pending payment" in page
    assert 'name="_save"' not in page
    assert reverse("admin:orders_order_ship", args=[paid_order.pk]) in page


def test_the_order_pages_payments_link_from_a_column_with_no_label_above_their_rows(client, operator, paid_order):
    payment = PaymentFactory(order=paid_order, out_trade_no=f"{paid_order.order_no}07")

    page = client.get(reverse("admin:orders_order_change", args=[paid_order.pk])).content.decode()

    assert f'href="{reverse("admin:orders_payment_change", args=[payment.pk])}"' in page
    # The row's str() is the out_trade_no: shown once, in its column, not again on a line above the row.
    assert len(re.findall(rf">\s*{payment.out_trade_no}\s*<", page)) == 1


def test_operations_ships_a_paid_order_through_the_status_service(client, operator, paid_order):
    url = reverse("admin:orders_order_ship", args=[paid_order.pk])
    form = client.get(url).content.decode()
    assert "顺丰速运" in form and "京东物流" in form

    response = client.post(url, {"carrier": "sf", "tracking_number": "SF1234567890"})

    assert response.status_code == 302
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.carrier, paid_order.tracking_number) == ("shipped", "sf", "SF1234567890")
    event = paid_order.events.latest("id")
    assert (event.from_status, event.to_status, event.actor, event.staff_user) == ("paid", "shipped", "staff", operator)


def test_an_unpaid_order_cannot_be_shipped(client, operator, sku, place_order):
    order = place_order([(sku, 1)])

    response = client.post(
        reverse("admin:orders_order_ship", args=[order.pk]), {"carrier": "sf", "tracking_number": "SF1234567890"}
    )

    assert response.status_code == 200
    assert "cannot become shipped" in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


@pytest.mark.parametrize(
    "form", [{"carrier": "pigeon", "tracking_number": "X1"}, {"carrier": "sf", "tracking_number": "<x>"}]
)
def test_the_ship_form_refuses_an_unknown_carrier_or_a_bad_tracking_number(client, operator, paid_order, form):
    response = client.post(reverse("admin:orders_order_ship", args=[paid_order.pk]), form)

    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    paid_order.refresh_from_db()
    assert paid_order.status == OrderStatus.PAID


def test_staff_without_the_ship_permission_are_refused(client, django_user_model, paid_order):
    marketer = django_user_model.objects.create_user(username="marketer", is_staff=True)
    marketer.groups.add(Group.objects.get(name="Marketing"))
    client.force_login(marketer)

    response = client.post(
        reverse("admin:orders_order_ship", args=[paid_order.pk]), {"carrier": "sf", "tracking_number": "X1"}
    )

    assert response.status_code == 403
    paid_order.refresh_from_db()
    assert paid_order.status == OrderStatus.PAID


def test_stock_and_sales_show_stock_beside_units_awaiting_payment_and_sold(client, operator, place_order):
    sku = SkuFactory(code="MUG-WHITE", stock=20, price_fen=1000)
    place_order([(sku, 3)])
    paid = place_order([(sku, 5)])
    order_transition(order_id=paid.pk, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT)
    cancelled = place_order([(sku, 1)])
    Order.objects.filter(pk=cancelled.pk).update(status=OrderStatus.CANCELLED)

    response = client.get(reverse("admin:orders_skustockandsales_changelist"), {"q": "MUG-WHITE"})

    page = response.content.decode()
    assert response.status_code == 200
    assert changelist_cells(page, "stock") == ["11"]
    assert changelist_cells(page, "awaiting_payment") == ["3"]
    assert changelist_cells(page, "sold") == ["5"]
    assert changelist_cells(page, "revenue") == ["¥50.00"]


def test_stock_and_sales_revenue_is_net_of_refunds(client, operator, place_order):
    # The walkthrough's order: ¥399.00 paid, ¥100.00 refunded, then a refund WeChat refused (gave nothing back).
    sku = SkuFactory(code="BED-GREY", stock=5, price_fen=39900)
    order = place_order([(sku, 1)])
    order_transition(order_id=order.pk, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT)
    payment = PaymentFactory(order=order, status=PaymentStatus.PAID, transaction_id="4200000000000000000000000001")
    RefundFactory(payment=payment, amount_fen=10000, status=RefundStatus.SUCCEEDED)
    RefundFactory(payment=payment, amount_fen=5000, status=RefundStatus.FAILED)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.PARTIALLY_REFUNDED)

    page = client.get(reverse("admin:orders_skustockandsales_changelist"), {"q": "BED-GREY"}).content.decode()

    assert changelist_cells(page, "sold") == ["1"]
    assert changelist_cells(page, "revenue") == ["¥299.00"]


def test_stock_and_sales_share_a_refund_among_an_orders_lines_and_net_a_full_refund_to_nothing(
    client, operator, place_order
):
    mug = SkuFactory(code="MUG-A", stock=5, price_fen=3000)
    plate = SkuFactory(code="MUG-B", stock=5, price_fen=1000)
    order = place_order([(mug, 1), (plate, 1)])
    payment = PaymentFactory(order=order, status=PaymentStatus.PAID, transaction_id="4200000000000000000000000002")
    RefundFactory(payment=payment, amount_fen=2000, status=RefundStatus.PROCESSING)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.REFUNDING)
    gone = place_order([(mug, 1)])
    gone_payment = PaymentFactory(order=gone, status=PaymentStatus.PAID, transaction_id="4200000000000000000000000003")
    RefundFactory(payment=gone_payment, amount_fen=3000, status=RefundStatus.SUCCEEDED)
    Order.objects.filter(pk=gone.pk).update(status=OrderStatus.REFUNDED)

    page = client.get(reverse("admin:orders_skustockandsales_changelist"), {"q": "MUG-"}).content.decode()

    # ¥40 paid, ¥20 refunded: the ¥30 mug carries ¥15 of it, the ¥10 plate ¥5; the refunded order adds nothing.
    assert sorted(changelist_cells(page, "revenue")) == ["¥15.00", "¥5.00"]


@pytest.mark.chinese_staff
def test_the_order_page_shows_the_payment_notification_in_beijing_time(client, operator, paid_order):
    """A notification received at 14:11 UTC reads 22:11, as WeChat Pay's own times and the rest of the page do."""
    payment = PaymentFactory(order=paid_order, status="paid", transaction_id="4200000001202612040000000001")
    notification = PaymentNotification.objects.create(
        payment=payment,
        out_trade_no=payment.out_trade_no,
        transaction_id=payment.transaction_id,
        total_fee=payment.amount_fen,
        result_code="SUCCESS",
        outcome=NotificationOutcome.APPLIED,
        raw_body="<xml/>",
    )
    PaymentNotification.objects.filter(pk=notification.pk).update(received_at=datetime(2026, 12, 4, 14, 11, tzinfo=UTC))

    page = client.get(reverse("admin:orders_order_change", args=[paid_order.pk])).content.decode()

    assert "2026年12月4日 22:11" in page
    assert "14:11" not in page
