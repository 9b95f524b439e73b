import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from catalog.models import Product, Sku
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory, SkuFactory

pytestmark = pytest.mark.django_db

# Session, user, the category filter's choices, two counts, the page of rows:
# the same whether the page holds one product or twenty.
PRODUCT_CHANGELIST_QUERY_LIMIT = 6
# Session, user, two counts, the page of rows and treebeard's lookup of the level shown.
CATEGORY_CHANGELIST_QUERY_LIMIT = 6


def _inline_management_form(prefix: str, *, total: int, initial: int = 0) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def _product_add_form(*, category_id: int, price: str) -> dict:
    return {
        "category": str(category_id),
        "title": "Ceramic mug",
        "description": "",
        "is_active": "on",
        **_inline_management_form("skus", total=1),
        "skus-0-code": "MUG-350-WHITE",
        "skus-0-specs": '{"color": "white"}',
        "skus-0-price_fen": price,
        "skus-0-stock": "12",
        "skus-0-is_active": "on",
        **_inline_management_form("images", total=0),
    }


def test_product_changelist_shows_price_range_and_stock_in_bounded_queries(admin_client, django_assert_max_num_queries):
    for number in range(20):
        product = ProductFactory(title=f"Mug {number}")
        SkuFactory(product=product, price_fen=3990, stock=4)
        SkuFactory(product=product, price_fen=4500, stock=6)
        ProductImageFactory(product=product)

    with django_assert_max_num_queries(PRODUCT_CHANGELIST_QUERY_LIMIT):
        response = admin_client.get(reverse("admin:catalog_product_changelist"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "¥39.90 – ¥45.00" in page
    assert '<td class="field-total_stock">10</td>' in page


def test_product_changelist_searches_sku_codes_without_duplicates(admin_client):
    product = ProductFactory(title="Tea set")
    SkuFactory(product=product, code="TEASET-6CUP")
    SkuFactory(product=product, code="TEASET-8CUP")
    ProductFactory(title="Mug")

    response = admin_client.get(reverse("admin:catalog_product_changelist"), {"q": "TEASET"})

    assert list(response.context["cl"].result_list) == [product]


def test_category_changelist_counts_products(admin_client, django_assert_max_num_queries):
    for _ in range(10):
        ProductFactory(category=CategoryFactory())

    with django_assert_max_num_queries(CATEGORY_CHANGELIST_QUERY_LIMIT):
        response = admin_client.get(reverse("admin:catalog_category_changelist"))

    assert response.status_code == 200


def test_adding_a_product_takes_sku_price_in_yuan_and_stores_fen(admin_client):
    category = CategoryFactory()

    response = admin_client.post(
        reverse("admin:catalog_product_add"), _product_add_form(category_id=category.pk, price="39.90")
    )

    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    sku = Sku.objects.get()
    assert (sku.product.title, sku.price_fen, sku.stock, sku.specs) == ("Ceramic mug", 3990, 12, {"color": "white"})


def test_a_price_with_a_fraction_of_a_fen_is_refused(admin_client):
    category = CategoryFactory()

    response = admin_client.post(
        reverse("admin:catalog_product_add"), _product_add_form(category_id=category.pk, price="39.999")
    )

    assert response.status_code == 200
    assert not Product.objects.exists()
    assert "Ensure that there are no more than 2 decimal places." in response.content.decode()


def test_a_negative_stock_is_refused_with_the_constraint_message(admin_client):
    category = CategoryFactory()
    form = _product_add_form(category_id=category.pk, price="39.90") | {"skus-0-stock": "-1"}

    response = admin_client.post(reverse("admin:catalog_product_add"), form)

    assert response.status_code == 200
    assert "Stock cannot be negative." in response.content.decode()


def test_product_change_form_shows_sku_price_in_yuan(admin_client):
    sku = SkuFactory(price_fen=12800)

    response = admin_client.get(reverse("admin:catalog_product_change", args=[sku.product_id]))

    assert response.status_code == 200
    assert 'name="skus-0-price_fen" value="128.00"' in response.content.decode()


def test_saving_a_product_unchanged_leaves_its_sku_unchanged(admin_client):
    sku = SkuFactory(price_fen=3990)
    form = _product_add_form(category_id=sku.product.category_id, price="39.90") | {
        **_inline_management_form("skus", total=1, initial=1),
        "title": sku.product.title,
        "skus-0-id": str(sku.pk),
        "skus-0-product": str(sku.product_id),
        "skus-0-code": sku.code,
        "skus-0-specs": "{}",
        # Rendered beside fields whose model default is callable, as a browser would send it.
        "initial-skus-0-specs": "{}",
        "skus-0-stock": str(sku.stock),
    }

    response = admin_client.post(reverse("admin:catalog_product_change", args=[sku.product_id]), form)

    assert response.status_code == 302
    # The form compares yuan typed with fen stored, so an untouched price is not logged as a change.
    assert LogEntry.objects.get(object_id=str(sku.product_id)).get_change_message() == "No fields changed."
