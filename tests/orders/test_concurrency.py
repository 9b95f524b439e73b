"""Orders under real concurrency: threads, each on its own database connection, started at one instant.

Placing orders runs on either database, as order_create does: PostgreSQL places each in one statement
(.ci/run), SQLite through the ORM with every writer queued at BEGIN IMMEDIATE (`make test`); stock is
never oversold and one Idempotency-Key makes one order on both. Expiry, cancel and the address book
race on row locks SQLite does not have, so those run on PostgreSQL only (skipped without it, failed under CI).
"""

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from catalog.models import Sku
from config.errors import ApplicationError
from orders.models import Address, CartItem, Order, OrderActor, OrderEvent, OrderStatus
from orders.services.addresses import address_create
from orders.services.expiry import orders_expire_overdue
from orders.services.placement import order_create
from orders.services.status import order_cancel
from tests import real_services
from tests.factories import AddressFactory, CartItemFactory, CustomerFactory, SkuFactory
from tests.orders.conftest import authenticated_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def _postgresql():
    real_services.require(connection.vendor == "postgresql", "PostgreSQL as DATABASE_URL")


def run_at_once(calls: list) -> list:
    """Run each call in its own thread, all released together; their results (or exceptions) in order."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - the test inspects what each thread met
            results[index] = error
        finally:
            connection.close()  # each thread opened its own

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def _buyer():
    customer = CustomerFactory()
    return customer, AddressFactory(customer=customer, is_default=True)


def test_fifty_buyers_of_ten_in_stock_make_exactly_ten_orders():
    sku = SkuFactory(stock=10)
    buyers = [_buyer() for _ in range(50)]
    clients = [(authenticated_client(customer), address) for customer, address in buyers]
    lowest_stock_seen = []
    done = threading.Event()

    def watch_stock():
        lowest = sku.stock
        while not done.is_set():
            lowest = min(lowest, Sku.objects.get(pk=sku.pk).stock)
        connection.close()
        lowest_stock_seen.append(lowest)

    watcher = threading.Thread(target=watch_stock)
    watcher.start()
    responses = run_at_once(
        [
            lambda client=client, address=address: client.post(
                "/api/v1/orders",
                {"items": [{"sku_id": sku.pk, "quantity": 1}], "address_id": address.pk},
                format="json",
            )
            for client, address in clients
        ]
    )
    done.set()
    watcher.join()

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {201: 10, 409: 40}, [r for r in responses if not hasattr(r, "status_code")]
    assert {response.json()["code"] for response in responses if response.status_code == 409} == {"insufficient_stock"}
    assert Order.objects.count() == 10
    sku.refresh_from_db()
    assert sku.stock == 0
    assert lowest_stock_seen[0] >= 0


def test_multi_line_orders_over_the_same_skus_in_opposite_orders_never_deadlock():
    first, second, third = (SkuFactory(stock=1000) for _ in range(3))
    buyers = [_buyer() for _ in range(24)]
    line_orders = [[first, second, third], [third, second, first], [second, third, first]]

    def place(customer, address, skus):
        for _ in range(5):
            order_create(
                customer=customer,
                address_id=address.pk,
                items=[{"sku_id": sku.pk, "quantity": 1} for sku in skus],
            )
        return "ok"

    results = run_at_once(
        [
            lambda customer=customer, address=address, skus=line_orders[index % 3]: place(customer, address, skus)
            for index, (customer, address) in enumerate(buyers)
        ]
    )

    assert results == ["ok"] * 24
    assert Order.objects.count() == 24 * 5
    assert set(Sku.objects.filter(pk__in=[first.pk, second.pk, third.pk]).values_list("stock", flat=True)) == {880}


def test_concurrent_retries_with_one_idempotency_key_make_one_order():
    sku = SkuFactory(stock=10)
    customer, address = _buyer()
    items = [{"sku_id": sku.pk, "quantity": 3}]

    results = run_at_once(
        [
            lambda: order_create(customer=customer, address_id=address.pk, items=items, idempotency_key="same")
            for _ in range(12)
        ]
    )

    assert all(isinstance(result, Order) for result in results), results
    assert {result.order_no for result in results} == {Order.objects.get().order_no}
    sku.refresh_from_db()
    assert sku.stock == 7


def test_concurrent_retries_of_a_cart_order_make_one_order_and_empty_the_cart():
    sku = SkuFactory(stock=10)
    customer, address = _buyer()
    cart_item = CartItemFactory(customer=customer, sku=sku, quantity=2)

    results = run_at_once(
        [
            lambda: order_create(
                customer=customer, address_id=address.pk, cart_item_ids=[cart_item.pk], idempotency_key="cart"
            )
            for _ in range(12)
        ]
    )

    assert all(isinstance(result, Order) for result in results), results
    assert {result.order_no for result in results} == {Order.objects.get().order_no}
    assert not CartItem.objects.filter(customer=customer).exists()
    sku.refresh_from_db()
    assert sku.stock == 8


def test_concurrent_requests_with_one_key_and_different_bodies_make_one_order_and_refuse_the_rest():
    sku = SkuFactory(stock=100)
    customer, address = _buyer()

    results = run_at_once(
        [
            lambda quantity=quantity: order_create(
                customer=customer,
                address_id=address.pk,
                items=[{"sku_id": sku.pk, "quantity": quantity}],
                idempotency_key="same",
            )
            for quantity in range(1, 9)
        ]
    )

    placed = Order.objects.get()
    refused = [result for result in results if isinstance(result, ApplicationError)]
    assert {result.code for result in refused} == {"idempotency_key_reused"}
    assert len(refused) == 7
    sku.refresh_from_db()
    assert sku.stock == 100 - placed.total_fen // sku.price_fen


def _overdue_orders(sku, count):
    orders = []
    for _ in range(count):
        customer, address = _buyer()
        orders.append(order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 2}]))
    Order.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    return orders


@pytest.mark.services
@pytest.mark.usefixtures("_postgresql")
def test_expiry_running_twice_at_once_returns_the_stock_exactly_once():
    sku = SkuFactory(stock=100)
    orders = _overdue_orders(sku, 30)
    sku.refresh_from_db()
    assert sku.stock == 40

    results = run_at_once([lambda: orders_expire_overdue(batch_size=4) for _ in range(2)])

    assert sum(results) == 30, results
    assert Order.objects.filter(status=OrderStatus.EXPIRED).count() == 30
    assert OrderEvent.objects.filter(to_status=OrderStatus.EXPIRED).count() == 30
    sku.refresh_from_db()
    assert sku.stock == 100
    assert len(orders) == 30


@pytest.mark.services
@pytest.mark.usefixtures("_postgresql")
def test_cancel_racing_expiry_returns_the_stock_once_per_order():
    sku = SkuFactory(stock=100)
    orders = _overdue_orders(sku, 20)

    def cancel_all():
        outcomes = []
        for order in orders:
            try:
                order_cancel(order=order, actor=OrderActor.CUSTOMER)
                outcomes.append("cancelled")
            except ApplicationError as error:
                outcomes.append(error.code)
        return outcomes

    cancelled, expired_count = run_at_once([cancel_all, lambda: orders_expire_overdue(batch_size=3)])

    assert set(cancelled) <= {"cancelled", "order_not_cancellable"}
    assert cancelled.count("cancelled") + expired_count == 20
    assert Order.objects.filter(status=OrderStatus.PENDING_PAYMENT).count() == 0
    sku.refresh_from_db()
    assert sku.stock == 100


@pytest.mark.services
@pytest.mark.usefixtures("_postgresql")
def test_concurrent_new_default_addresses_leave_exactly_one_default():
    customer, _ = _buyer()
    region = {"province": "广东省", "city": "深圳市", "district": "南山区"}

    results = run_at_once(
        [
            lambda number=number: address_create(
                customer=customer,
                recipient=f"r{number}",
                phone="13800000000",
                region=region,
                detail="d",
                is_default=True,
            )
            for number in range(8)
        ]
    )

    assert all(isinstance(result, Address) for result in results), results
    assert Address.objects.filter(customer=customer).count() == 9
    assert Address.objects.filter(customer=customer, is_default=True).count() == 1
