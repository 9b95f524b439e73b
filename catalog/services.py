"""Every write to the catalog outside plain admin field edits."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import nh3
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import OuterRef, ProtectedError, Subquery
from django.utils.translation import gettext as _
from PIL import Image

from catalog import spec_matrix, thumbnails
from catalog.exceptions import DescriptionImageRefused, SkuMatrixRefused, StockAdjustmentRefused
from catalog.models import Category, Product, ProductImage, Sku, StockAdjustment
from catalog.product_detail_cache import product_detail_versions_replace
from catalog.storefront_list_cache import storefront_list_version_new, storefront_list_version_replace

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


def product_detail_cache_invalidate(*, product_ids: Iterable[int], stock_taken_only: bool = False) -> None:
    """Retire the cached detail answers of these products, and the list answers, once the transaction commits.

    Call it from every write that changes what a product's detail shows: its fields,
    shelf state, SKUs (price, stock, activity), images, sales count, its category's name.
    After the commit, not before: a reader between a new token and the commit would
    still see the old rows and keep them under the new token.

    `stock_taken_only`: the write only took stock (an order), which lists check for
    themselves (catalog/storefront_list_cache.py), so the list answers are kept.
    """
    product_ids = set(product_ids)
    if not product_ids:
        return
    if stock_taken_only:
        transaction.on_commit(lambda: product_detail_versions_replace(product_ids=product_ids))
    else:
        # The lists' token with the details' in one write: one round trip to the cache, not two.
        transaction.on_commit(
            lambda: product_detail_versions_replace(
                product_ids=product_ids, together_with=storefront_list_version_new()
            )
        )


def storefront_lists_invalidate() -> None:
    """Retire every cached list answer once the current transaction commits."""
    transaction.on_commit(storefront_list_version_replace)


def category_product_detail_cache_invalidate(*, category: Category) -> None:
    """A category's name shows on its products' detail pages; whether it is active decides the lists it filters."""
    product_detail_cache_invalidate(product_ids=category.products.values_list("pk", flat=True))
    storefront_lists_invalidate()


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
def sku_create(*, sku: Sku, by: AbstractBaseUser | None, reason: str = "") -> Sku:
    """Save a new SKU at 0 stock; the stock it was given arrives as an audited adjustment ("Initial stock").

    So every unit a SKU ever held is in its adjustment log, the first ones included.
    """
    reason = reason or _("Initial stock")
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
        raise StockAdjustmentRefused(
            _("Enter a number of units other than zero."), fields={"delta": [_("Cannot be 0.")]}
        )
    if not reason:
        raise StockAdjustmentRefused(_("Say why the stock changes."), fields={"reason": [_("This field is required.")]})
    sku = Sku.objects.select_for_update().get(pk=sku_id)
    stock_after = sku.stock + delta
    if stock_after < 0:
        message = _("Stock cannot go below zero: %(code)s has %(stock)d, so at most %(stock)d can be removed.") % {
            "code": sku.code,
            "stock": sku.stock,
        }
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


@dataclass(frozen=True)
class SkuMatrixRow:
    """One row of the admin's SKU matrix: a combination of spec values and what staff typed for it.

    `stock` is the initial stock of a new SKU; an existing SKU's stock changes only through
    sku_stock_adjust. `image` is a newly chosen photo, `image_cleared` asks to remove the one it has.
    """

    specs: dict[str, str]
    code: str = ""
    price_fen: int | None = None
    list_price_fen: int | None = None
    stock: int = 0
    is_active: bool = True
    image: File | None = None
    image_cleared: bool = False


# Where a problem belongs: a row's field (row index, field name) or the matrix as a whole (None, None).
SkuMatrixProblem = tuple[int | None, str | None, str]


def sku_matrix_problems(*, product_id: int | None, dimensions, rows: list[SkuMatrixRow]) -> list[SkuMatrixProblem]:
    """Everything that stops this matrix from being saved, as sentences for staff; empty when it can be.

    The admin form shows them beside the rows; product_sku_matrix_save refuses with them.
    """
    dimension_problems = spec_matrix.spec_dimensions_problems(dimensions)
    if dimension_problems:
        return [(None, None, problem) for problem in dimension_problems]
    dimensions = spec_matrix.spec_dimensions_normalized(dimensions)
    expected = [spec_matrix.spec_key(specs) for specs in spec_matrix.spec_combinations(dimensions)]
    given = [spec_matrix.spec_key(row.specs) for row in rows]
    if sorted(given) != sorted(expected):
        return [(None, None, _("The SKU table does not match the spec dimensions; reload the page and try again."))]

    existing_keys = {spec_matrix.spec_key(sku.specs) for sku in Sku.objects.filter(product_id=product_id)}
    problems: list[SkuMatrixProblem] = []
    codes_seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        if not _row_makes_a_sku(row, existing=spec_matrix.spec_key(row.specs) in existing_keys):
            continue
        if row.price_fen is None:
            problems.append((index, "price", _("Enter a price.")))
        elif row.list_price_fen is not None and row.list_price_fen < row.price_fen:
            problems.append((index, "list_price", _("The list price cannot be below the price.")))
        if not row.code.strip():
            problems.append((index, "code", _("Enter a SKU code.")))
        elif row.code.strip() in codes_seen:
            problems.append((index, "code", _("Two rows have the code “%(code)s”.") % {"code": row.code.strip()}))
        codes_seen.setdefault(row.code.strip(), index)
    codes_seen.pop("", None)
    taken = _codes_taken_elsewhere(
        product_id=product_id, rows_by_code={code: rows[i] for code, i in codes_seen.items()}
    )
    for code, owner in taken.items():
        message = _("The code “%(code)s” is already used by %(owner)s.") % {"code": code, "owner": owner}
        problems.append((codes_seen[code], "code", message))
    return problems


def _row_makes_a_sku(row: SkuMatrixRow, *, existing: bool) -> bool:
    # A combination that is not sold and was never typed in stays without a SKU.
    return existing or row.is_active or row.price_fen is not None or bool(row.code.strip())


def _codes_taken_elsewhere(*, product_id: int | None, rows_by_code: dict[str, SkuMatrixRow]) -> dict[str, str]:
    """Codes the rows want that stay with another SKU (codes are unique across the shop).

    This product's SKUs let theirs go when their own row takes another code (two rows may
    swap) or when their combination left the matrix (the row with their code adopts them).
    """
    rows_by_key = {spec_matrix.spec_key(row.specs): row for row in rows_by_code.values()}
    taken = {}
    for sku in Sku.objects.filter(code__in=list(rows_by_code)).select_related("product"):
        if sku.product_id == product_id:
            own_row = rows_by_key.get(spec_matrix.spec_key(sku.specs))
            if own_row is None or own_row is rows_by_code[sku.code] or own_row.code.strip() != sku.code:
                continue
        taken[sku.code] = _("“%(product)s” (%(specs)s)") % {
            "product": sku.product.title,
            "specs": " / ".join(sku.specs.values()) or "—",
        }
    return taken


@transaction.atomic
def product_sku_matrix_save(
    *, product: Product, dimensions: list[dict], rows: list[SkuMatrixRow], by: AbstractBaseUser | None
) -> None:
    """Store the product's spec dimensions and make its SKUs match the matrix's rows.

    Existing SKUs are found by their specs, so their ids, stock and order history stay. A SKU
    whose combination left the matrix is deleted, unless an order line protects it: then it is
    deactivated, and comes back if its combination does.
    """
    problems = sku_matrix_problems(product_id=product.pk, dimensions=dimensions, rows=rows)
    if problems:
        raise SkuMatrixRefused(
            _("The SKU table cannot be saved."), fields={"skus": [message for _row, _field, message in problems]}
        )
    product.spec_dimensions = spec_matrix.spec_dimensions_normalized(dimensions)
    product.save(update_fields=["spec_dimensions", "updated_at"])

    skus_by_key: dict[tuple, Sku] = {}
    # Active first, then oldest: if older data holds two SKUs with the same specs, the row keeps the live one.
    for sku in Sku.objects.select_for_update().filter(product=product).order_by("-is_active", "id"):
        skus_by_key.setdefault(spec_matrix.spec_key(sku.specs), sku)
    matched: list[tuple[Sku, SkuMatrixRow]] = []
    unmatched_rows = []
    for row in rows:
        sku = skus_by_key.pop(spec_matrix.spec_key(row.specs), None)
        if sku is None:
            unmatched_rows.append(row)
        else:
            matched.append((sku, row))
    # A SKU whose combination left the matrix is adopted by the new row that carries its code
    # (a value renamed, a dimension added): its stock and history stay, orders keep their own specs.
    leftovers_by_code = {sku.code: sku for sku in skus_by_key.values()}
    new_rows = []
    for row in unmatched_rows:
        sku = leftovers_by_code.pop(row.code.strip(), None)
        if sku is None:
            new_rows.append(row)
        else:
            matched.append((sku, row))
    _skus_retire(leftovers_by_code.values())
    # Two rows may swap codes; park the changing ones first so the unique index never sees a duplicate.
    for sku, row in matched:
        if sku.code != row.code.strip():
            Sku.objects.filter(pk=sku.pk).update(code=f"~{sku.pk}")
    for sku, row in matched:
        _sku_from_row_update(sku=sku, row=row)
    for row in new_rows:
        if _row_makes_a_sku(row, existing=False):
            _sku_from_row_create(product=product, row=row, by=by)
    product_display_prices_refresh(product_ids=[product.pk])
    product_detail_cache_invalidate(product_ids=[product.pk])


def _sku_from_row_create(*, product: Product, row: SkuMatrixRow, by: AbstractBaseUser | None) -> Sku:
    sku = sku_create(
        sku=Sku(
            product=product,
            specs=row.specs,
            code=row.code.strip(),
            price_fen=row.price_fen,
            list_price_fen=row.list_price_fen,
            stock=row.stock,
            is_active=row.is_active,
        ),
        by=by,
    )
    if row.image:
        sku_image_replace(sku=sku, image=row.image)
    return sku


def _sku_from_row_update(*, sku: Sku, row: SkuMatrixRow) -> None:
    sku.specs = row.specs
    sku.code = row.code.strip()
    sku.price_fen = row.price_fen
    sku.list_price_fen = row.list_price_fen
    sku.is_active = row.is_active
    sku.save(update_fields=["specs", "code", "price_fen", "list_price_fen", "is_active"])
    if row.image:
        sku_image_replace(sku=sku, image=row.image)
    elif row.image_cleared:
        sku_image_replace(sku=sku, image=None)


def _skus_retire(skus) -> None:
    for sku in skus:
        try:
            # A savepoint, so a refused delete leaves the surrounding transaction usable.
            with transaction.atomic():
                sku.delete()
        except ProtectedError:
            # Orders point at it (on_delete=PROTECT): keep the row for their history, off sale.
            if sku.is_active:
                sku.is_active = False
                sku.save(update_fields=["is_active"])


def sku_image_replace(*, sku: Sku, image: File | None) -> None:
    """Give the SKU this photo (None removes it) and make its square list thumbnail once, now."""
    for field_file in (sku.image, sku.image_thumbnail):
        if field_file:
            field_file.delete(save=False)
    if image is not None:
        sku.image.save(image.name, image, save=False)
        with sku.image.open("rb") as original_file:
            original = thumbnails.opened_for_thumbnails(original_file)
        sku.image_thumbnail.save(
            thumbnails.thumbnail_name(sku.image.name, "list"),
            ContentFile(thumbnails.list_thumbnail_jpeg(original)),
            save=False,
        )
    sku.save(update_fields=["image", "image_thumbnail"])
    product_detail_cache_invalidate(product_ids=[sku.product_id])


# A phone camera's photo is a few MB; anything far bigger is not a product photo.
DESCRIPTION_IMAGE_MAX_BYTES = 20 * 1024 * 1024


def product_description_image_store(*, upload: File) -> str:
    """Keep a photo put into a product description, sized for the detail page; returns its media URL.

    Scaled once here to the detail page's width (catalog/thumbnails.py) as a JPEG, so a phone
    never downloads a camera original inside the description.
    """
    if upload.size > DESCRIPTION_IMAGE_MAX_BYTES:
        raise DescriptionImageRefused(
            _("This image is larger than %(megabytes)d MB; export a smaller one.")
            % {"megabytes": DESCRIPTION_IMAGE_MAX_BYTES // (1024 * 1024)}
        )
    try:
        picture = thumbnails.opened_for_thumbnails(upload)
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise DescriptionImageRefused(_("This file is not an image we can read (JPG, PNG, GIF or WebP).")) from error
    name = default_storage.save(
        f"catalog/descriptions/{uuid.uuid4().hex}.jpg", ContentFile(thumbnails.detail_thumbnail_jpeg(picture))
    )
    return default_storage.url(name)
