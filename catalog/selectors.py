"""Catalog reads shared by the storefront APIs and the admin.

Keyword search is a case-insensitive substring match (`icontains`: LIKE on SQLite,
UPPER(column) LIKE UPPER(pattern) on PostgreSQL) over title and subtitle. Chinese
has no spaces between words, so word-splitting search (PostgreSQL's full-text
parsers split on whitespace and punctuation) would need a Chinese segmenter
extension; a substring match finds "马克杯" inside "景德镇手作陶瓷马克杯" with none.

On PostgreSQL, catalog/migrations/0005 adds pg_trgm GIN indexes on UPPER(title)
and UPPER(subtitle), the expressions icontains compares, so a query of three or
more characters is looked up in the indexes instead of scanning every on-shelf
product (the plans and timings: docs/benchmarks.md).

Trigrams need at least 3 characters, so a rare 2-character word still scans
the table; acceptable at this size, and a search engine with a
Chinese tokenizer is the step after ~100,000 products. pg_trgm keeps
only characters the database's locale calls alphanumeric: CJK counts in
C.UTF-8 (checked with show_trgm('马克杯')) and the usual UTF-8 locales, not in
the "C" locale, where the indexes would index nothing and searches would scan.
"""

from dataclasses import dataclass
from functools import cache

from django.db.models import (
    BooleanField,
    CharField,
    ExpressionWrapper,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, NullIf

from catalog.models import Category, Product, ProductImage, Sku

# Each storefront ordering ends on the primary key so a cursor never skips or repeats ties.
PRODUCT_ORDERINGS = {
    "newest": ("-created_at", "-id"),
    "price": ("display_price_fen", "id"),
    "-price": ("-display_price_fen", "-id"),
    "sales": ("sales_count", "id"),
    "-sales": ("-sales_count", "-id"),
}


@dataclass(frozen=True)
class ProductFilters:
    category: Category | None = None
    keyword: str = ""
    price_min_fen: int | None = None
    price_max_fen: int | None = None
    in_stock: bool | None = None
    ordering: str = "newest"


@dataclass
class CategoryNode:
    id: int
    name: str
    slug: str
    children: list["CategoryNode"]


def products_with_sku_summary(*, products: QuerySet[Product] | None = None) -> QuerySet[Product]:
    """Products annotated with min_price_fen, max_price_fen and total_stock over their SKUs, in one query.

    Each is None for a product without SKUs. `list_thumbnail_name` is the main image's list thumbnail.
    """
    if products is None:
        products = Product.objects.all()
    return products.annotate(
        min_price_fen=Min("skus__price_fen"),
        max_price_fen=Max("skus__price_fen"),
        total_stock=Sum("skus__stock"),
        list_thumbnail_name=_main_image_list_thumbnail(product=OuterRef("pk")),
    )


def skus_with_list_thumbnail(*, skus: QuerySet[Sku]) -> QuerySet[Sku]:
    """SKUs annotated with `list_thumbnail_name`: their own photo's thumbnail, else their product's main one."""
    return skus.annotate(
        list_thumbnail_name=Coalesce(
            NullIf("image_thumbnail", Value("")),
            _main_image_list_thumbnail(product=OuterRef("product_id")),
            output_field=CharField(),
        )
    )


def first_sku_list_thumbnail(*, skus: QuerySet[Sku]) -> Subquery:
    """The list thumbnail of the first of `skus` (already filtered by an OuterRef), for a row that lists SKUs."""
    return Subquery(skus_with_list_thumbnail(skus=skus).values("list_thumbnail_name")[:1])


def _main_image_list_thumbnail(*, product) -> Subquery:
    # Images uploaded before thumbnails existed show the original.
    main_image = ProductImage.objects.filter(product=product).order_by("position", "id")
    return Subquery(
        main_image.annotate(
            shown=Coalesce(NullIf("list_thumbnail", Value("")), "image", output_field=CharField())
        ).values("shown")[:1]
    )


# The product page of our Mini Program (README "Mini Program pages"): article cards and codes open it.
PRODUCT_PAGE = "pages/product/detail"


def products_for_mini_program_links(*, limit: int = 500) -> QuerySet[Product]:
    """On-shelf products by title, each with `card_image_name` (its main image's detail thumbnail, else the image)."""
    main_image = ProductImage.objects.filter(product=OuterRef("pk")).order_by("position", "id")
    card_image = main_image.annotate(
        shown=Coalesce(NullIf("detail_thumbnail", Value("")), "image", output_field=CharField())
    ).values("shown")[:1]
    return (
        Product.objects.filter(is_active=True)
        .annotate(card_image_name=Subquery(card_image))
        .order_by("title", "pk")
        .only("pk", "title")[:limit]
    )


def category_tree() -> list[CategoryNode]:
    """Active categories as a tree in display order, in one query; an inactive category hides its subtree."""
    roots: list[CategoryNode] = []
    nodes_by_path: dict[str, CategoryNode] = {}
    step = Category.steplen
    for category in Category.objects.order_by("path").only("id", "name", "slug", "path", "is_active"):
        parent_path = category.path[:-step]
        if not category.is_active or (parent_path and parent_path not in nodes_by_path):
            continue
        node = CategoryNode(id=category.id, name=category.name, slug=category.slug, children=[])
        nodes_by_path[category.path] = node
        (nodes_by_path[parent_path].children if parent_path else roots).append(node)
    return roots


def storefront_categories() -> QuerySet[Category]:
    """Categories a shopper may filter by (active ones)."""
    return Category.objects.filter(is_active=True)


def storefront_products(*, filters: ProductFilters) -> QuerySet[Product]:
    """On-shelf products with at least one active SKU, filtered and ordered for the storefront list.

    Price filters and ordering use the stored `display_price_fen` (the cheapest active
    SKU's price) and its index. Each product also carries `list_price_fen` of that SKU,
    `in_stock` and its main image's `cover_thumbnail`, from correlated subqueries
    evaluated only for the rows of the page, so a page costs one query whatever its size.
    """
    products = _storefront_products_annotated().all()
    if filters.category is not None:
        products = products.filter(category__path__startswith=filters.category.path)
    if filters.keyword:
        products = products.filter(Q(title__icontains=filters.keyword) | Q(subtitle__icontains=filters.keyword))
    if filters.price_min_fen is not None:
        products = products.filter(display_price_fen__gte=filters.price_min_fen)
    if filters.price_max_fen is not None:
        products = products.filter(display_price_fen__lte=filters.price_max_fen)
    if filters.in_stock is not None:
        products = products.filter(in_stock=filters.in_stock)
    return products.order_by(*PRODUCT_ORDERINGS[filters.ordering])


@cache
def _storefront_products_annotated() -> QuerySet[Product]:
    """Built once per process and cloned per request: resolving the subqueries costs more than running them.

    The queryset is never evaluated itself, only cloned by .all() and .filter(), so
    no rows are cached in it; it holds no data, just the compiled expressions.
    """
    active_skus = Sku.objects.filter(product=OuterRef("pk"), is_active=True)
    main_image = ProductImage.objects.filter(product=OuterRef("pk")).order_by("position", "id")
    return (
        Product.objects.filter(is_active=True, display_price_fen__isnull=False)
        # A per-product LIMIT 1 lookup: PostgreSQL may answer EXISTS by hashing every SKU in stock.
        .alias(sku_in_stock_id=Subquery(active_skus.filter(stock__gt=0).order_by().values("id")[:1]))
        .annotate(
            list_price_fen=Subquery(active_skus.order_by("price_fen", "id").values("list_price_fen")[:1]),
            in_stock=ExpressionWrapper(Q(sku_in_stock_id__isnull=False), output_field=BooleanField()),
            # Images uploaded before thumbnails existed show the original in the list.
            cover_thumbnail=Subquery(
                main_image.annotate(
                    shown=Coalesce(NullIf("list_thumbnail", Value("")), "image", output_field=CharField())
                ).values("shown")[:1]
            ),
        )
        .only("id", "title", "subtitle", "sales_count", "category_id", "created_at", "display_price_fen")
    )


def storefront_product(*, product_id: int) -> Product | None:
    """An on-shelf product with its active SKUs and its images (three queries), or None if shoppers cannot see it."""
    product = (
        Product.objects.filter(pk=product_id, is_active=True)
        .select_related("category")
        .prefetch_related(
            Prefetch("skus", queryset=Sku.objects.filter(is_active=True).order_by("price_fen", "id")),
            Prefetch("images", queryset=ProductImage.objects.order_by("position", "id")),
        )
        .first()
    )
    if product is None or not product.skus.all():
        return None
    return product


def storefront_skus_sold_out_count() -> int:
    """Active SKUs with no stock left: between catalog writes only orders change stock, and only down,
    so while this number holds no product has left or joined the in-stock ones. One query."""
    return Sku.objects.filter(is_active=True, stock__lte=0).count()
