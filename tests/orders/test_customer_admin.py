"""Customers as people in the admin: nickname and avatar, phone from their addresses, orders and money."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from orders.models import OrderActor, OrderStatus, PaymentStatus, RefundStatus
from orders.services.status import order_transition
from tests.admin_pages import changelist_cells
from tests.factories import AddressFactory, CustomerFactory, PaymentFactory, RefundFactory, SkuFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:customers_customer_changelist")
AVATAR = "https://cdn.example.com/avatars/wang.jpg"


@pytest.fixture
def operator(client, django_user_model):
    user = django_user_model.objects.create_user(username="ops", is_staff=True)
    user.groups.add(Group.objects.get(name="Operations"))
    client.force_login(user)
    return user


@pytest.fixture
def wang(place_order):
    """王小明: two addresses (the default's phone is his), a paid ¥399 order refunded ¥100, and an unpaid one."""
    wang = CustomerFactory(openid="o-wang", nickname="王小明", avatar_url=AVATAR)
    AddressFactory(customer=wang, phone="13900000001", is_default=False)
    home = AddressFactory(customer=wang, phone="13800138000", is_default=True)
    bed = SkuFactory(price_fen=39900, stock=5, product__title="Linen bed")
    paid = place_order([(bed, 1)], buyer=wang, to_address=home)
    order_transition(order_id=paid.pk, to_status=OrderStatus.PAID, actor=OrderActor.PAYMENT)
    payment = PaymentFactory(order=paid, status=PaymentStatus.PAID, transaction_id="4200000000000000000000000011")
    RefundFactory(payment=payment, amount_fen=10000, status=RefundStatus.SUCCEEDED)
    RefundFactory(payment=payment, amount_fen=500, status=RefundStatus.FAILED)  # gave nothing back
    PaymentFactory(order=paid, out_trade_no=f"{paid.order_no}-2", status=PaymentStatus.CLOSED)  # an abandoned try
    wang.unpaid = place_order([(bed, 1)], buyer=wang, to_address=home)
    wang.paid = paid
    return wang


def test_the_customer_list_shows_people_with_phone_orders_spent_and_refunded(client, operator, wang):
    CustomerFactory(openid="o-quiet")  # no nickname, no address, no orders

    page = client.get(CHANGELIST).content.decode()

    assert f'src="{AVATAR}"' in page and "王小明" in page
    assert "o-quiet" in page  # without a nickname, the openid stands in
    cells = dict(zip(changelist_cells(page, "phone"), changelist_cells(page, "spent"), strict=True))
    assert (cells["13800138000"], cells["—"]) == ("¥399.00", "¥0.00")
    assert "¥100.00" in changelist_cells(page, "refunded")
    assert "2" in changelist_cells(page, "order_count")


def test_customers_are_found_by_nickname_or_an_addresses_phone(client, operator, wang):
    CustomerFactory(openid="o-other", nickname="李雷")

    by_name = client.get(CHANGELIST, {"q": "小明"}).content.decode()
    by_phone = client.get(CHANGELIST, {"q": "13900000001"}).content.decode()

    for page in (by_name, by_phone):
        assert "王小明" in page and "李雷" not in page
    assert client.get(CHANGELIST, {"q": "13900000001"}).context["cl"].result_count == 1  # not once per address


def test_the_customer_list_runs_in_bounded_queries(client, operator, place_order, django_assert_max_num_queries):
    sku = SkuFactory(stock=500)
    for number in range(25):
        customer = CustomerFactory(nickname=f"顾客{number}")
        address = AddressFactory(customer=customer, is_default=True)
        for _ in range(2):
            order = place_order([(sku, 1)], buyer=customer, to_address=address)
            PaymentFactory(order=order, status=PaymentStatus.PAID, transaction_id=f"42{order.order_no}")

    # Session, user, the Mini Program filter's choices, a count, the page with every figure.
    with django_assert_max_num_queries(8):
        response = client.get(CHANGELIST)

    assert response.status_code == 200
    assert changelist_cells(response.content.decode(), "spent").count("¥79.80") == 25


def test_a_customers_page_shows_their_order_history_addresses_and_totals(client, operator, wang):
    response = client.get(reverse("admin:customers_customer_change", args=[wang.pk]))
    page = response.content.decode()
    assert response.status_code == 200, page[-3000:]

    assert "王小明" in page and "13800138000" in page and "13900000001" in page
    assert reverse("admin:orders_order_change", args=[wang.paid.pk]) in page
    assert reverse("admin:orders_order_change", args=[wang.unpaid.pk]) in page
    assert "¥399.00" in page and "¥100.00" in page
    assert 'name="_save"' not in page  # read-only: the customer changes them in the Mini Program


def test_the_order_list_shows_the_person_linked_beside_recipient_and_phone(client, operator, wang):
    page = client.get(reverse("admin:orders_order_changelist")).content.decode()

    assert reverse("admin:customers_customer_change", args=[wang.pk]) in page
    assert "王小明" in page
    assert changelist_cells(page, "phone").count(wang.paid.phone) == 2
    assert wang.paid.recipient in changelist_cells(page, "recipient")
