"""List answers stay in the shared cache until the catalog changes; past the max-age, only while their stock holds.

Each write is made as the code makes it and its after-commit work is run, as a commit
would (django_capture_on_commit_callbacks). Every read here is as a web process with no
copy of its own; `past_max_age` makes every read after the first one older than the
max-age, which is when a kept list is checked against the number of sold-out SKUs.
"""

import pytest
from django.core.cache import caches
from django.test import override_settings
from rest_framework.test import APIClient

from catalog.models import Product
from catalog.services import products_shelf_set, sku_stock_adjust
from orders.services.placement import order_create
from orders.services.status import order_cancel
from tests.caching import redis_caches
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    CustomerFactory,
    ProductImageFactory,
    SkuFactory,
)
from tests.languages import ENGLISH

pytestmark = pytest.mark.django_db

PRODUCTS_URL = "/api/v1/catalog/products"


@pytest.fixture
def api() -> APIClient:
    return APIClient(**ENGLISH)


@pytest.fixture
def read(api):
    def products(**params):
        caches["storefront_local"].clear()  # as another process, or this one after its copy ended
        response = api.get(PRODUCTS_URL, params)
        assert response.status_code == 200, response.content
        return response

    return products


@pytest.fixture
def past_max_age(monkeypatch):
    monkeypatch.setattr("catalog.storefront_caching.STOREFRONT_MAX_AGE_SECONDS", 0)
    monkeypatch.setattr("catalog.storefront_caching.SOLD_OUT_COUNT_SHARED_SECONDS", 0)  # every check counts anew


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture
def sku():
    sku = SkuFactory(price_fen=3990, stock=10, product__title="Mug")
    ProductImageFactory(product=sku.product)
    return sku


def _order(sku, quantity: int):
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, is_default=True)
    return order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": quantity}])


def _shown(response) -> dict[str, bool]:
    return {item["title"]: item["in_stock"] for item in response.json()["results"]}


def test_past_the_max_age_an_unchanged_list_is_served_again_after_one_stock_query(
    sku, read, past_max_age, django_assert_num_queries
):
    first = read()
    Product.objects.filter(pk=sku.product_id).update(title="Big mug")  # raw SQL: no catalog write the cache hears of

    with django_assert_num_queries(1):  # how many SKUs are sold out
        again = read()

    assert again.content == first.content
    assert again["ETag"] == first["ETag"]


def test_an_order_leaving_stock_keeps_the_lists(sku, read, past_max_age, committed, django_assert_num_queries):
    first = read(in_stock="true")

    with committed():
        _order(sku, 3)

    with django_assert_num_queries(1):
        assert read(in_stock="true").content == first.content


def test_an_order_selling_a_product_out_shows_on_the_lists_past_the_max_age(sku, read, past_max_age, committed):
    assert _shown(read()) == {"Mug": True}
    assert _shown(read(in_stock="true")) == {"Mug": True}
    assert _shown(read(in_stock="false")) == {}

    with committed():
        _order(sku, 10)

    assert _shown(read()) == {"Mug": False}
    assert _shown(read(in_stock="true")) == {}
    assert _shown(read(in_stock="false")) == {"Mug": False}  # a list of sold-out products lives the max-age only


def test_within_the_max_age_a_list_is_served_as_rendered(sku, read, committed, django_assert_num_queries):
    first = read()

    with committed():
        _order(sku, 10)

    with django_assert_num_queries(0):  # at most 15 s old, as the API documents
        assert read().content == first.content


def test_an_order_selling_out_one_sku_of_a_product_still_in_stock_retires_the_lists(sku, read, past_max_age, committed):
    other_colour = SkuFactory(product=sku.product, price_fen=4990, stock=1)
    read()
    Product.objects.filter(pk=sku.product_id).update(title="Big mug")  # unheard of: shows once the entry goes

    with committed():
        _order(other_colour, 1)  # a SKU sold out: the count of sold-out SKUs moved

    assert _shown(read()) == {"Big mug": True}


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda sku: sku_stock_adjust(sku_id=sku.pk, delta=5, reason="Delivery", by=None), id="stock"),
        pytest.param(lambda sku: products_shelf_set(product_ids=[sku.product_id], on_shelf=True), id="shelf"),
    ],
)
def test_a_catalog_write_retires_every_list_at_once(sku, read, committed, write):
    plate = SkuFactory(price_fen=1990, stock=3, product__title="Plate")
    read(ordering="price")
    Product.objects.filter(pk=plate.product_id).update(title="Big plate")  # unheard of: shows once the entry goes

    with committed():
        write(sku)  # another product: every list may have changed

    assert _shown(read(ordering="price")) == {"Big plate": True, "Mug": True}


def test_an_edit_to_a_product_shows_on_the_next_list_read(sku, read, committed):
    read()

    with committed():
        products_shelf_set(product_ids=[sku.product_id], on_shelf=False)

    assert _shown(read()) == {}


def test_a_cancelled_order_returning_stock_puts_the_product_back_on_in_stock_lists(sku, read, committed):
    with committed():
        order = _order(sku, 10)
    assert _shown(read(in_stock="true")) == {}

    with committed():
        order_cancel(order=order, actor="customer")

    assert _shown(read(in_stock="true")) == {"Mug": True}


def test_a_list_miss_is_a_bounded_number_of_queries(read, past_max_age, django_assert_num_queries):
    category = CategoryFactory()
    for number in range(30):
        sku = SkuFactory(product__title=f"Mug {number}", product__category=category, stock=number % 2)
        ProductImageFactory(product=sku.product)

    with django_assert_num_queries(2):  # the sold-out count, then the page
        assert len(read(page_size=50).json()["results"]) == 30
    with django_assert_num_queries(3):  # the category's lookup too
        assert len(read(category=category.pk, in_stock="true", ordering="-price").json()["results"]) == 15


def test_with_redis_as_the_shared_cache_a_kept_list_is_checked_and_a_write_retires_it(
    sku, read, past_max_age, committed, django_assert_num_queries
):
    with override_settings(CACHES=redis_caches()):
        first = read()
        with django_assert_num_queries(1):
            assert read().content == first.content

        with committed():
            _order(sku, 10)
        assert _shown(read()) == {"Mug": False}

        with committed():
            products_shelf_set(product_ids=[sku.product_id], on_shelf=False)
        assert _shown(read()) == {}
