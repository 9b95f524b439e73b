from django.db.models import Max, Min, QuerySet, Sum

from catalog.models import Product


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
