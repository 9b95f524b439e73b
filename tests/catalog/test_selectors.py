import pytest

from catalog.models import Product
from catalog.selectors import products_with_sku_summary
from tests.factories import ProductFactory, SkuFactory

pytestmark = pytest.mark.django_db


def test_summary_spans_all_skus_of_each_product():
    mug = ProductFactory(title="Mug")
    SkuFactory(product=mug, price_fen=3990, stock=5)
    SkuFactory(product=mug, price_fen=4500, stock=7)
    ProductFactory(title="Teapot")

    summaries = {product.title: product for product in products_with_sku_summary()}

    assert (summaries["Mug"].min_price_fen, summaries["Mug"].max_price_fen, summaries["Mug"].total_stock) == (
        3990,
        4500,
        12,
    )
    assert (summaries["Teapot"].min_price_fen, summaries["Teapot"].total_stock) == (None, None)


def test_summary_narrows_a_given_queryset(django_assert_num_queries):
    ProductFactory(title="Hidden", is_active=False)
    SkuFactory(product__title="Shown")

    with django_assert_num_queries(1):
        titles = [
            product.title for product in products_with_sku_summary(products=Product.objects.filter(is_active=True))
        ]

    assert titles == ["Shown"]
