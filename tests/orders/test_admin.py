import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from orders.models import Order, OrderActor, OrderStatus
from orders.services.status import order_transition
from tests.admin_pages import changelist_cells
from tests.factories import AddressFactory, CustomerFactory, SkuFactory

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


def test_operations_ships_a_paid_order_through_the_status_service(client, operator, paid_order):
    url = reverse("admin:orders_order_ship", args=[paid_order.pk])
    form = client.get(url).content.decode()
    assert "SF Express" in form and "JD Logistics" in form

    response = client.post(url, {"carrier": "sf", "tracking_number": "SF1234567890"})

    assert response.status_code == 302
    paid_order.refresh_from_db()
    assert (paid_order.status, paid_order.carrier, paid_order.tracking_number) == ("shipped", "sf", "SF1234567890")
    event = paid_order.events.latest("id")
    assert (event.from_status, event.to_status, event.actor, event.staff_user) == ("paid", "shipped", "staff", operator)


def test_an_unpaid_order_cannot_be_shipped(client, operator, sku, place_order):
    order = place_order([(sku, 1)])

    response = client.post(
        reverse("admin:orders_order_ship", args=[order.pk]), {"carrier": "sf", "tracking_number": "X1"}
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
