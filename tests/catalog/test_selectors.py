import pytest
from django.db import connection

from catalog.models import Product
from catalog.selectors import category_tree, products_with_sku_summary
from tests.factories import CategoryFactory, ProductFactory, SkuFactory

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


def test_category_tree_nests_children_in_position_then_name_order():
    tea = CategoryFactory(name="Tea", slug="tea", position=2)
    CategoryFactory(name="Kitchen", slug="kitchen", position=1)
    leaves = CategoryFactory(name="Leaves", slug="leaves", parent=tea)
    CategoryFactory(name="Green", slug="green", parent=leaves)
    CategoryFactory(name="Black", slug="black", parent=leaves)

    def shape(nodes):
        return [(node.slug, shape(node.children)) for node in nodes]

    assert shape(category_tree()) == [
        ("kitchen", []),
        ("tea", [("leaves", [("black", []), ("green", [])])]),
    ]


def test_category_tree_is_one_query(django_assert_num_queries):
    root = CategoryFactory()
    for _ in range(5):
        CategoryFactory(parent=CategoryFactory(parent=root))

    with django_assert_num_queries(1):
        category_tree()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram indexes exist on PostgreSQL only")
@pytest.mark.parametrize("column", ["title", "subtitle"])
def test_the_trigram_indexes_match_the_sql_django_writes_for_icontains(column):
    ProductFactory(title="景德镇手作陶瓷马克杯", subtitle="景德镇手作陶瓷马克杯")
    matching = Product.objects.filter(**{f"{column}__icontains": "陶瓷马克杯"}).values("id")
    sql, params = matching.query.sql_with_params()

    with connection.cursor() as cursor:
        # A tiny table is scanned anyway; forbid that to see whether the index fits Django's expression.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert f"catalog_product_{column}_trgm" in plan
    assert matching.count() == 1
