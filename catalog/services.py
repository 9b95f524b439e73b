"""Every write to the catalog outside plain admin field edits."""

from collections.abc import Iterable

import nh3
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import OuterRef, Subquery

from catalog import thumbnails
from catalog.exceptions import StockAdjustmentRefused
from catalog.models import Category, Product, ProductImage, Sku, StockAdjustment
from catalog.product_detail_cache import product_detail_versions_replace

# What the Mini Program's <rich-text> renders and a product page needs: text
# structure, emphasis, lists, tables and images. No links (a Mini Program cannot
# open arbitrary web pages), no scripts, styles, frames or forms.
DESCRIPTION_TAGS = {
    "p", "br", "hr", "h2", "h3", "h4", "strong", "b", "em", "i", "u", "s", "sub", "sup", "span",
    "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "img",
}  # fmt: skip
DESCRIPTION_ATTRIBUTES = {"img": {"src", "alt", "width", "height"}, "td": {"colspan", "rowspan"}}
DESCRIPTION_URL_SCHEMES = {"https", "http"}


def product_description_clean(*, html: str) -> str:
    """The description reduced to the safe subset above; everything else is dropped, its text kept."""
    return nh3.clean(
        html,
        tags=DESCRIPTION_TAGS,
        attributes=DESCRIPTION_ATTRIBUTES,
        url_schemes=DESCRIPTION_URL_SCHEMES,
        link_rel=None,
    ).strip()


def product_detail_cache_invalidate(*, product_ids: Iterable[int]) -> None:
    """Retire the cached detail answers of these products once the current transaction commits.

    Call it from every write that changes what a product's detail shows: its fields,
    shelf state, SKUs (price, stock, activity), images, sales count, its category's name.
    After the commit, not before: a reader between a new token and the commit would
    still see the old rows and keep them under the new token.
    """
    product_ids = set(product_ids)
    if product_ids:
        transaction.on_commit(lambda: product_detail_versions_replace(product_ids=product_ids))


def category_product_detail_cache_invalidate(*, category: Category) -> None:
    """A category's name shows on its products' detail pages."""
    product_detail_cache_invalidate(product_ids=category.products.values_list("pk", flat=True))


def product_display_prices_refresh(*, product_ids: Iterable[int]) -> None:
    """Store each product's cheapest active SKU price; call after any change to SKUs' prices or activity."""
    cheapest = Sku.objects.filter(product=OuterRef("pk"), is_active=True).order_by("price_fen", "id")
    Product.objects.filter(pk__in=list(product_ids)).update(
        display_price_fen=Subquery(cheapest.values("price_fen")[:1])
    )


@transaction.atomic
def products_shelf_set(*, product_ids: Iterable[int], on_shelf: bool) -> int:
    """Put products on or take them off the shelf; returns how many changed."""
    product_ids = list(product_ids)
    product_detail_cache_invalidate(product_ids=product_ids)
    return Product.objects.filter(pk__in=product_ids).exclude(is_active=on_shelf).update(is_active=on_shelf)


@transaction.atomic
def sku_create(*, sku: Sku, by: AbstractBaseUser | None, reason: str = "Initial stock") -> Sku:
    """Save a new SKU at 0 stock; the stock it was given arrives as an audited adjustment.

    So every unit a SKU ever held is in its adjustment log, the first ones included.
    """
    initial_stock = sku.stock
    sku.stock = 0
    sku.save(force_insert=True)
    if initial_stock:
        sku.stock = sku_stock_adjust(sku_id=sku.pk, delta=initial_stock, reason=reason, by=by).stock_after
    return sku


@transaction.atomic
def sku_stock_adjust(*, sku_id: int, delta: int, reason: str, by: AbstractBaseUser | None) -> StockAdjustment:
    """Add or remove stock under a row lock and record who did it, why, and what was left.

    The lock serialises this with order creation's conditional decrement, so the
    audited `stock_after` is the stock that really resulted.
    """
    reason = reason.strip()
    if delta == 0:
        raise StockAdjustmentRefused("Enter a number of units other than zero.", fields={"delta": ["Cannot be 0."]})
    if not reason:
        raise StockAdjustmentRefused("Say why the stock changes.", fields={"reason": ["This field is required."]})
    sku = Sku.objects.select_for_update().get(pk=sku_id)
    stock_after = sku.stock + delta
    if stock_after < 0:
        message = f"Stock cannot go below zero: {sku.code} has {sku.stock}, so at most {sku.stock} can be removed."
        raise StockAdjustmentRefused(message, fields={"delta": [message]})
    sku.stock = stock_after
    sku.save(update_fields=["stock"])
    product_detail_cache_invalidate(product_ids=[sku.product_id])
    return StockAdjustment.objects.create(sku=sku, delta=delta, reason=reason, stock_after=stock_after, created_by=by)


def product_image_thumbnails_make(*, product_image: ProductImage) -> None:
    """Make the list and detail thumbnails of a newly uploaded image; called once per upload, never per request."""
    with product_image.image.open("rb") as original_file:
        original = thumbnails.opened_for_thumbnails(original_file)
    made = {
        "list_thumbnail": ("list", thumbnails.list_thumbnail_jpeg(original)),
        "detail_thumbnail": ("detail", thumbnails.detail_thumbnail_jpeg(original)),
    }
    for field_name, (suffix, jpeg) in made.items():
        field_file = getattr(product_image, field_name)
        if field_file:
            field_file.delete(save=False)  # a replaced photo's thumbnails would otherwise stay behind
        field_file.save(thumbnails.thumbnail_name(product_image.image.name, suffix), ContentFile(jpeg), save=False)
    product_image.save(update_fields=list(made))
    product_detail_cache_invalidate(product_ids=[product_image.product_id])


def product_image_create(*, product: Product, image: ContentFile, position: int = 0) -> ProductImage:
    product_image = ProductImage(product=product, position=position)
    product_image.image.save(image.name, image, save=True)
    product_detail_cache_invalidate(product_ids=[product.pk])
    product_image_thumbnails_make(product_image=product_image)
    return product_image
