"""Catalog reads shared by the storefront APIs and the admin.

Keyword search is a plain case-insensitive substring match (`icontains`: LIKE on
SQLite, UPPER(...) LIKE on PostgreSQL). Chinese has no spaces between words, so
any word-splitting search (PostgreSQL's full-text search, whose parsers split
on whitespace and punctuation) would need a Chinese segmenter extension;
a substring match finds "马克杯" inside "景德镇手作陶瓷马克杯" with none.

No index for it on PostgreSQL, measured and decided (bench_storefront, 10,000
products, README "Benchmarks"): a pg_trgm GIN index cannot help the typical
query. Shoppers type one or two Chinese words, usually 2-3 characters, and a
pattern shorter than 3 characters yields no trigram to look up, so PostgreSQL
scans anyway; pg_trgm also takes only "alphanumeric" characters, which depends
on the database's locale (CJK counts in C.UTF-8 and most UTF-8 locales, not
in "C"). The search runs only over on-shelf products and scanning their titles
takes a few milliseconds at this size. Revisit past ~100,000 products with a
trigram index on UPPER(title) for queries of 3+ characters, or a search engine.
"""

from dataclasses import dataclass

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

    Each is None for a product without SKUs.
    """
    if products is None:
        products = Product.objects.all()
    return products.annotate(
        min_price_fen=Min("skus__price_fen"),
        max_price_fen=Max("skus__price_fen"),
        total_stock=Sum("skus__stock"),
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
    `in_stock` and its main image's `cover_thumbnail`, from correlated
    subqueries evaluated only for the rows of the page, so a page costs one query
    whatever its size.
    """
    active_skus = Sku.objects.filter(product=OuterRef("pk"), is_active=True)
    main_image = ProductImage.objects.filter(product=OuterRef("pk")).order_by("position", "id")
    products = (
        Product.objects.filter(is_active=True, display_price_fen__isnull=False)
        .annotate(
            list_price_fen=Subquery(active_skus.order_by("price_fen", "id").values("list_price_fen")[:1]),
            # A per-product LIMIT 1 lookup: PostgreSQL may answer EXISTS by hashing every SKU in stock.
            sku_in_stock_id=Subquery(active_skus.filter(stock__gt=0).values("id")[:1]),
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
