"""What placing an order costs in database round trips, on whichever database the run has.

PostgreSQL places an order with one call to orders_order_place() (migration 0021), in autocommit, so
psycopg sends no BEGIN or COMMIT around it: a captured query is a round trip. SQLite takes the ORM
path. Every other order test runs on both too: .ci/run sets DATABASE_URL, `make test` without it is SQLite.
"""

import threading
import time

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog.models import ProductImage, Sku
from config.errors import ApplicationError
from orders.models import Order, OrderEvent, OrderLine
from orders.services.placement import order_create
from orders.services.placement_in_database import order_place_in_database_supported
from tests.factories import AddressFactory, CartItemFactory, CustomerFactory, ProductImageFactory, SkuFactory
from tests.orders.conftest import authenticated_client

# transaction=True: no test-wide transaction, so each order runs as production runs it (autocommit).
pytestmark = pytest.mark.django_db(transaction=True)

ON_POSTGRESQL = pytest.mark.skipif("connection.vendor != 'postgresql'", reason="the one-statement path")


@pytest.fixture
def buyer():
    customer = CustomerFactory()
    return customer, AddressFactory(customer=customer, is_default=True)


def _placed_in_queries(call) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        try:
            result = call()
        except ApplicationError as error:
            result = error
    return result, [query["sql"] for query in queries.captured_queries]


def test_postgresql_places_orders_in_the_database_and_sqlite_through_the_orm():
    assert order_place_in_database_supported() == (connection.vendor == "postgresql")


@ON_POSTGRESQL
def test_a_placed_order_is_one_round_trip_outside_any_transaction(buyer):
    customer, address = buyer
    sku = SkuFactory(stock=5)
    ProductImageFactory(product=sku.product)

    order, sql = _placed_in_queries(
        lambda: order_create(
            customer=customer,
            address_id=address.pk,
            items=[{"sku_id": sku.pk, "quantity": 2}],
            idempotency_key="one-trip",
        )
    )

    assert isinstance(order, Order)
    assert len(sql) == 1 and "orders_order_place(" in sql[0], sql
    assert connection.get_autocommit(), "autocommit: psycopg sent no BEGIN or COMMIT"
    assert [(line.sku_id, line.quantity) for line in OrderLine.objects.filter(order=order)] == [(sku.pk, 2)]
    assert OrderEvent.objects.filter(order=order, from_status="", to_status="pending_payment").count() == 1


@ON_POSTGRESQL
@pytest.mark.parametrize("refusal", ["insufficient_stock", "sku_unavailable", "address_required"])
def test_a_refused_order_is_one_round_trip_and_writes_nothing(buyer, refusal):
    customer, address = buyer
    sku = SkuFactory(stock=1, is_active=refusal != "sku_unavailable")
    address_id = address.pk if refusal != "address_required" else AddressFactory().pk

    error, sql = _placed_in_queries(
        lambda: order_create(customer=customer, address_id=address_id, items=[{"sku_id": sku.pk, "quantity": 2}])
    )

    assert isinstance(error, ApplicationError) and error.code == refusal
    assert len(sql) == 1, sql
    sku.refresh_from_db()
    assert sku.stock == 1
    assert not Order.objects.exists()


@ON_POSTGRESQL
def test_a_line_found_short_under_its_lock_gives_back_what_the_earlier_lines_took(buyer):
    # The statement's snapshot shows enough of both SKUs; another buyer's uncommitted sale of the
    # second makes our UPDATE wait, then find it short once that sale commits.
    customer, address = buyer
    first, second = SkuFactory(stock=10), SkuFactory(stock=2, product__title="Teapot")
    selling = threading.Event()

    def sell_out_second_while_the_order_waits():
        with transaction.atomic():
            Sku.objects.filter(pk=second.pk).update(stock=0)
            selling.set()
            _until_a_backend_waits_for_a_lock()
        connection.close()

    seller = threading.Thread(target=sell_out_second_while_the_order_waits)
    seller.start()
    assert selling.wait(10)
    error, sql = _placed_in_queries(
        lambda: order_create(
            customer=customer,
            address_id=address.pk,
            items=[{"sku_id": first.pk, "quantity": 4}, {"sku_id": second.pk, "quantity": 2}],
        )
    )
    seller.join(10)

    assert (error.code, error.fields, error.message) == (
        "insufficient_stock",
        {"sku_id": second.pk, "stock_left": 0},
        "“Teapot” is out of stock.",
    )
    assert len(sql) == 1
    first.refresh_from_db()
    assert first.stock == 10
    assert not Order.objects.exists()


def _until_a_backend_waits_for_a_lock() -> None:
    with connection.cursor() as cursor:
        for _ in range(200):
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the order never waited for the SKU's lock")


@ON_POSTGRESQL
def test_a_cart_order_is_two_round_trips_reading_the_cart_first(buyer):
    customer, address = buyer
    cart_item = CartItemFactory(customer=customer, sku=SkuFactory(stock=5), quantity=1)

    order, sql = _placed_in_queries(
        lambda: order_create(customer=customer, address_id=address.pk, cart_item_ids=[cart_item.pk])
    )

    assert isinstance(order, Order)
    assert len(sql) == 2, sql


@ON_POSTGRESQL
def test_a_refused_order_with_an_idempotency_key_adds_only_the_lookup_of_an_earlier_order(buyer):
    customer, address = buyer
    sku = SkuFactory(stock=0)

    error, sql = _placed_in_queries(
        lambda: order_create(
            customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}], idempotency_key="k"
        )
    )

    assert error.code == "insufficient_stock"
    assert len(sql) == 2, sql


def test_placing_through_the_api_reads_the_token_then_places_and_answers_without_reading_again(buyer):
    customer, address = buyer
    sku = SkuFactory(stock=5)
    api = authenticated_client(customer)

    with CaptureQueriesContext(connection) as queries:
        response = api.post(
            "/api/v1/orders", {"items": [{"sku_id": sku.pk, "quantity": 1}], "address_id": address.pk}, format="json"
        )

    assert response.status_code == 201, response.json()
    sql = [query["sql"] for query in queries.captured_queries]
    placing = [query for query in sql if "orders_" in query]
    if connection.vendor == "postgresql":
        # The whole request: the token with its customer, then the order. Nothing else.
        assert len(sql) == 2, sql
        assert "customers_customertoken" in sql[0] and "customers_customer" in sql[0]
        assert len(placing) == 1 and "orders_order_place(" in placing[0], placing
    assert not [sql for sql in placing if sql.lstrip().upper().startswith("SELECT") and "orders_orderline" in sql]
    assert response.json()["timeline"][0]["to"] == "pending_payment"


def test_a_main_image_with_a_chinese_name_gets_the_storage_url_on_either_path(buyer):
    customer, address = buyer
    sku = SkuFactory(stock=5)
    name = default_storage.save("catalog/茶杯 (白).jpg", ContentFile(b"not really a jpeg"))
    ProductImage.objects.create(product=sku.product, image=name, position=0)

    order = order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])

    assert OrderLine.objects.get(order=order).image == default_storage.url(name)
    assert "%E8%8C%B6" in default_storage.url(name)


@ON_POSTGRESQL
def test_the_placing_call_is_prepared_on_its_connection_once_it_has_run_a_few_times(buyer):
    # Prepared (settings' prepare_threshold): PostgreSQL parses and plans the call once a connection.
    customer, address = buyer
    sku = SkuFactory(stock=10)
    for _ in range(settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"] + 1):
        order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [statement for (statement,) in cursor.fetchall()]

    assert [statement for statement in prepared if "orders_order_place(" in statement], prepared


@pytest.mark.parametrize("off", ["sku", "product"])
def test_a_one_line_order_of_something_off_sale_is_refused_and_takes_no_stock(buyer, off):
    # PostgreSQL's one statement for one line takes stock only where the SKU and its product are for sale.
    customer, address = buyer
    sku = SkuFactory(stock=5, is_active=off != "sku", product__is_active=off != "product")

    error, _ = _placed_in_queries(
        lambda: order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])
    )

    assert error.code == "sku_unavailable"
    sku.refresh_from_db()
    assert sku.stock == 5
    assert not Order.objects.exists()


def test_a_one_line_order_to_another_customers_address_takes_no_stock(buyer):
    customer, _ = buyer
    sku = SkuFactory(stock=5)

    error, _ = _placed_in_queries(
        lambda: order_create(
            customer=customer, address_id=AddressFactory().pk, items=[{"sku_id": sku.pk, "quantity": 1}]
        )
    )

    assert error.code == "address_required"
    sku.refresh_from_db()
    assert sku.stock == 5
    assert not Order.objects.exists()
