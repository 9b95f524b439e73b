"""Product detail answers stay in the shared cache until the product changes, and never after.

Each write is made as the code makes it and its after-commit work is run, as a
commit would (django_capture_on_commit_callbacks); the next read must show it.
`read` reads as a web process with no copy of its own (another process, or this
one after the max-age); the last tests cover the copies a process keeps.
"""

import io
import time
from datetime import timedelta

import pytest
from django.core.cache import cache, caches
from django.core.files.base import ContentFile
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from catalog import product_detail_cache
from catalog.admin import SkuAdmin
from catalog.models import Sku
from catalog.product_detail_cache import product_detail_version_key
from catalog.services import product_image_create, sku_stock_adjust
from orders.models import Order
from orders.services.expiry import orders_expire_overdue
from orders.services.payments import PaidOutcome, payment_paid_record
from orders.services.placement import order_create
from orders.services.status import order_cancel
from tests.caching import redis_caches
from tests.catalog.test_admin import (
    SKU_HEADER,
    _csv_upload,
    _format_index,
    _product_change_form,
)
from tests.factories import (
    AddressFactory,
    CategoryFactory,
    CustomerFactory,
    PaymentFactory,
    ProductImageFactory,
    SkuFactory,
)
from tests.languages import ENGLISH

pytestmark = pytest.mark.django_db

PRODUCTS_URL = "/api/v1/catalog/products"
# The product with its category, its active SKUs, its images.
PRODUCT_DETAIL_QUERIES = 3


@pytest.fixture
def api() -> APIClient:
    return APIClient(**ENGLISH)


@pytest.fixture
def sku():
    sku = SkuFactory(price_fen=3990, stock=10, product__title="Mug", product__category=CategoryFactory(name="Kitchen"))
    ProductImageFactory(product=sku.product)
    return sku


@pytest.fixture
def read(api, django_assert_num_queries):
    """The product's detail, asserting it came from the cache (no query) or was built afresh."""

    def detail(product_id: int, *, cached: bool, queries: int = PRODUCT_DETAIL_QUERIES):
        caches["storefront_local"].clear()
        with django_assert_num_queries(0 if cached else queries):
            response = api.get(f"{PRODUCTS_URL}/{product_id}")
        return response

    return detail


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs what a write queued for after its commit, as the commit would."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


def _sku_of(response, sku_id: int) -> dict:
    assert response.status_code == 200, response.content
    return next(line for line in response.json()["skus"] if line["id"] == sku_id)


def test_an_unchanged_product_is_answered_from_the_cache_with_no_query(sku, read):
    first = read(sku.product_id, cached=False)
    again = read(sku.product_id, cached=True)

    assert again.content == first.content
    assert again["ETag"] == first["ETag"]
    assert set(again["Cache-Control"].split(", ")) == {"public", "max-age=15"}


def test_a_write_to_one_product_leaves_the_others_cached(sku, read, committed):
    other = SkuFactory(stock=3)
    read(sku.product_id, cached=False)
    read(other.product_id, cached=False)

    with committed():
        sku_stock_adjust(sku_id=other.pk, delta=2, reason="Delivery", by=None)

    assert _sku_of(read(sku.product_id, cached=True), sku.pk)["stock"] == 10
    assert _sku_of(read(other.product_id, cached=False), other.pk)["stock"] == 5


def test_a_stock_adjustment_shows_on_the_next_read(sku, read, committed):
    read(sku.product_id, cached=False)

    with committed():
        sku_stock_adjust(sku_id=sku.pk, delta=-4, reason="Broken", by=None)

    assert _sku_of(read(sku.product_id, cached=False), sku.pk)["stock"] == 6
    assert _sku_of(read(sku.product_id, cached=True), sku.pk)["stock"] == 6


def test_the_cached_answer_is_retired_at_commit_not_before(sku, read, django_capture_on_commit_callbacks):
    read(sku.product_id, cached=False)

    with django_capture_on_commit_callbacks() as after_commit:
        sku_stock_adjust(sku_id=sku.pk, delta=-4, reason="Broken", by=None)
        # Not committed yet: a reader elsewhere still sees the old rows, so the old answer stands.
        assert _sku_of(read(sku.product_id, cached=True), sku.pk)["stock"] == 10
    for callback in after_commit:
        callback()

    assert _sku_of(read(sku.product_id, cached=False), sku.pk)["stock"] == 6


def test_a_lost_version_token_costs_a_miss_never_a_stale_answer(sku, read):
    read(sku.product_id, cached=False)
    Sku.objects.filter(pk=sku.pk).update(price_fen=1990)  # a write that retired the token...
    cache.delete(product_detail_version_key(sku.product_id))  # ...then the token was evicted

    assert _sku_of(read(sku.product_id, cached=False), sku.pk)["price_fen"] == 1990
    assert _sku_of(read(sku.product_id, cached=True), sku.pk)["price_fen"] == 1990


def test_a_price_changed_in_the_product_editor_shows_on_the_next_read(sku, read, committed, admin_client):
    read(sku.product_id, cached=False)
    form = _product_change_form(sku, price="29.90") | {"title": "Big mug"}

    with committed():
        response = admin_client.post(reverse("admin:catalog_product_change", args=[sku.product_id]), form)

    assert response.status_code == 302
    fresh = read(sku.product_id, cached=False)
    assert (fresh.json()["title"], _sku_of(fresh, sku.pk)["price_fen"]) == ("Big mug", 2990)


def test_a_price_changed_on_the_sku_page_shows_on_the_next_read(sku, read, committed, admin_client):
    read(sku.product_id, cached=False)
    form = {"product": str(sku.product_id), "code": sku.code, "specs": "{}", "price_fen": "19.90", "is_active": "on"}

    with committed():
        response = admin_client.post(reverse("admin:catalog_sku_change", args=[sku.pk]), form)

    assert response.status_code == 302
    assert _sku_of(read(sku.product_id, cached=False), sku.pk)["price_fen"] == 1990


def test_a_sku_import_shows_on_the_next_read(sku, read, committed, admin_client):
    read(sku.product_id, cached=False)
    rows = [SKU_HEADER, f"{sku.code},{sku.product_id},{{}},9.90,,7,1"]
    preview = admin_client.post(
        reverse("admin:catalog_sku_import"),
        {"import_file": _csv_upload(rows), "format": _format_index(SkuAdmin, "csv"), "resource": "0"},
    )
    with committed():
        admin_client.post(reverse("admin:catalog_sku_process_import"), preview.context["confirm_form"].initial)

    assert _sku_of(read(sku.product_id, cached=False), sku.pk) == {
        "id": sku.pk,
        "specs": {},
        "price_fen": 990,
        "list_price_fen": None,
        "stock": 7,
        "available": True,
        "image": None,
    }


def test_a_new_image_shows_on_the_next_read(sku, read, committed, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    read(sku.product_id, cached=False)
    buffer = io.BytesIO()
    Image.new("RGB", (800, 800), "teal").save(buffer, format="JPEG")

    with committed():
        product_image_create(product=sku.product, image=ContentFile(buffer.getvalue(), name="new-cover.jpg"))

    images = read(sku.product_id, cached=False).json()["images"]
    assert [image["url"].rsplit("/", 1)[-1] for image in images][-1] == "new-cover.jpg"


def test_taking_a_product_off_shelf_makes_the_next_read_a_404(sku, read, committed, admin_client):
    read(sku.product_id, cached=False)

    with committed():
        admin_client.post(
            reverse("admin:catalog_product_changelist"),
            {"action": "take_off_shelf", "_selected_action": [str(sku.product_id)]},
        )

    assert read(sku.product_id, cached=False, queries=1).status_code == 404  # the product query finds nothing


def test_a_renamed_category_shows_on_its_products_next_read(sku, read, committed, admin_client):
    read(sku.product_id, cached=False)
    category = sku.product.category

    with committed():
        response = admin_client.post(
            reverse("admin:catalog_category_change", args=[category.pk]),
            {
                "name": "Tableware",
                "slug": category.slug,
                "position": "0",
                "is_active": "on",
                "treebeard_position": "sorted-sibling",
                "treebeard_ref_node": "",
            },
        )

    assert response.status_code == 302, response.content
    assert read(sku.product_id, cached=False).json()["category"]["name"] == "Tableware"


def _order(sku, quantity: int):
    customer = CustomerFactory()
    address = AddressFactory(customer=customer, is_default=True)
    return order_create(customer=customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": quantity}])


def test_an_order_taking_stock_shows_on_the_next_read(sku, read, committed):
    read(sku.product_id, cached=False)

    with committed():
        _order(sku, 3)

    assert _sku_of(read(sku.product_id, cached=False), sku.pk)["stock"] == 7


def test_a_cancelled_order_returning_stock_shows_on_the_next_read(sku, read, committed):
    with committed():
        order = _order(sku, 3)
    read(sku.product_id, cached=False)

    with committed():
        order_cancel(order=order, actor="customer")

    assert _sku_of(read(sku.product_id, cached=False), sku.pk)["stock"] == 10


def test_an_expired_order_returning_stock_shows_on_the_next_read(sku, read, committed):
    with committed():
        order = _order(sku, 3)
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    read(sku.product_id, cached=False)

    with committed():
        assert orders_expire_overdue() == 1

    assert _sku_of(read(sku.product_id, cached=False), sku.pk)["stock"] == 10


def test_with_redis_as_the_shared_cache_a_hit_costs_no_query_and_a_write_retires_it(sku, read, committed):
    with override_settings(CACHES=redis_caches()):
        read(sku.product_id, cached=False)
        assert _sku_of(read(sku.product_id, cached=True), sku.pk)["stock"] == 10

        with committed():
            sku_stock_adjust(sku_id=sku.pk, delta=5, reason="Delivery", by=None)

        assert _sku_of(read(sku.product_id, cached=False), sku.pk)["stock"] == 15
        assert _sku_of(read(sku.product_id, cached=True), sku.pk)["stock"] == 15


def test_with_django_redis_a_write_lost_with_its_connection_is_made_again(sku, read, committed):
    # Production's cache (django-redis): the tokens go over each thread's own connection. Closed by
    # the server (a restart, a proxy's idle timeout), it fails the next write, which is then made anew.
    with override_settings(CACHES=redis_caches("django_redis.cache.RedisCache")):
        read(sku.product_id, cached=False)
        with committed():
            _order(sku, 1)
        assert _sku_of(read(sku.product_id, cached=False), sku.pk)["stock"] == 9
        assert _sku_of(read(sku.product_id, cached=True), sku.pk)["stock"] == 9

        own = product_detail_cache._own.connection
        own.send_command("CLIENT", "ID")
        cache.client.get_client(write=True).client_kill_filter(_id=own.read_response())
        with committed():
            _order(sku, 2)

        assert _sku_of(read(sku.product_id, cached=False), sku.pk)["stock"] == 7
        assert _sku_of(read(sku.product_id, cached=True), sku.pk)["stock"] == 7


def test_a_payment_counting_sales_shows_on_the_next_read(sku, read, committed):
    with committed():
        order = _order(sku, 2)
    payment = PaymentFactory(order=order)
    read(sku.product_id, cached=False)

    with committed():
        outcome = payment_paid_record(
            out_trade_no=payment.out_trade_no,
            transaction_id="4200002026112312345678901234",
            amount_fen=payment.amount_fen,
            paid_at=timezone.now(),
            reason="test",
        )

    assert outcome == PaidOutcome.APPLIED
    assert read(sku.product_id, cached=False).json()["sales_count"] == 2


def test_a_process_answers_again_from_its_own_copy_for_the_max_age(sku, api, committed, django_assert_num_queries):
    first = api.get(f"{PRODUCTS_URL}/{sku.product_id}")
    with committed():
        sku_stock_adjust(sku_id=sku.pk, delta=-4, reason="Broken", by=None)
    cache.clear()  # nothing in the shared cache either: only this process's copy can answer

    with django_assert_num_queries(0):
        again = api.get(f"{PRODUCTS_URL}/{sku.product_id}")

    assert again.content == first.content  # at most the max-age old, as Cache-Control tells phones


def test_a_process_copy_expires_after_the_max_age(sku, api, committed, monkeypatch):
    monkeypatch.setattr("catalog.storefront_caching.STOREFRONT_MAX_AGE_SECONDS", 0.5)
    api.get(f"{PRODUCTS_URL}/{sku.product_id}")
    with committed():
        sku_stock_adjust(sku_id=sku.pk, delta=-4, reason="Broken", by=None)

    time.sleep(0.6)

    assert _sku_of(api.get(f"{PRODUCTS_URL}/{sku.product_id}"), sku.pk)["stock"] == 6
