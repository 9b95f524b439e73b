from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node


def validate_sku_specs(specs) -> None:
    # The storefront shows specs as "name: value" pairs, so nothing but text to text fits.
    if not isinstance(specs, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in specs.items()
    ):
        raise ValidationError(
            _('Specs must be a JSON object of names to text, e.g. {"color": "white"}.'), code="invalid_specs"
        )


class Category(MP_Node):
    """A node of the category tree (django-treebeard, materialized path).

    Materialized path over django-mptt: treebeard is maintained (mptt's maintainers
    have marked it unmaintained), and a path prefix answers both questions the
    storefront asks in one indexed query each: the whole tree in display order
    (ORDER BY path) and "this category and everything under it" (path LIKE 'prefix%').
    Siblings are kept sorted by `node_order_by`, so path order is display order.
    """

    name = models.CharField(max_length=64, verbose_name=_("name"))
    slug = models.SlugField(max_length=64, unique=True, verbose_name=_("slug"))
    position = models.PositiveSmallIntegerField(
        default=0,
        help_text=_("Lower numbers come first among the category's siblings in the storefront."),
        verbose_name=_("position"),
    )
    is_active = models.BooleanField(
        default=True, help_text=_("An inactive category hides its subcategories too."), verbose_name=_("is active")
    )

    node_order_by = ["position", "name"]

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """What the storefront lists; what a customer buys is one of its SKUs."""

    category = models.ForeignKey(
        Category, on_delete=models.PROTECT, related_name="products", verbose_name=_("category")
    )
    title = models.CharField(max_length=120, verbose_name=_("title"))
    subtitle = models.CharField(max_length=200, blank=True, default="", verbose_name=_("subtitle"))
    description = models.TextField(
        blank=True,
        help_text=_("HTML; cleaned to a safe subset (paragraphs, headings, lists, images) when saved."),
        verbose_name=_("description"),
    )
    is_active = models.BooleanField(
        _("on shelf"), default=True, help_text=_("Off-shelf products are invisible in the storefront.")
    )
    # [{"name": "颜色", "values": ["雾灰", "靛蓝"]}, ...] in display order: the axes of the SKU matrix,
    # written by catalog.services.product_sku_matrix_save (rules in catalog/spec_matrix.py).
    spec_dimensions = models.JSONField(default=list, blank=True, editable=False)
    # Counted by the orders app when an order is paid; the storefront sorts by it.
    sales_count = models.PositiveIntegerField(default=0, verbose_name=_("sales count"))
    # Kept by catalog.services.product_display_prices_refresh whenever SKUs change, so the storefront
    # filters and sorts by price through an index instead of computing every product's cheapest SKU.
    display_price_fen = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=None,
        editable=False,
        help_text=_("The cheapest active SKU's price in fen; empty when no SKU is on sale."),
        verbose_name=_("display price fen"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("product")
        verbose_name_plural = _("products")
        indexes = [
            # The storefront lists a category's active products, newest first.
            models.Index(fields=["category", "is_active", "-created_at"], name="catalog_product_listing_idx"),
            models.Index(fields=["is_active", "-created_at", "-id"], name="catalog_product_newest_idx"),
            models.Index(fields=["is_active", "-sales_count", "-id"], name="catalog_product_sales_idx"),
            models.Index(fields=["is_active", "display_price_fen", "id"], name="catalog_product_price_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class Sku(models.Model):
    """One purchasable variant of a product, with its own price and stock."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus", verbose_name=_("product"))
    code = models.CharField(
        max_length=64,
        unique=True,
        help_text=_("Unique stock-keeping code, e.g. MUG-350-WHITE."),
        verbose_name=_("code"),
    )
    specs = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_sku_specs],
        help_text=_('What sets this variant apart, e.g. {"color": "white", "size": "350 ml"}.'),
        verbose_name=_("specs"),
    )
    price_fen = models.PositiveIntegerField(help_text=_("Price in fen: 3990 is ¥39.90."), verbose_name=_("price fen"))
    list_price_fen = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=None,
        help_text=_("The crossed-out 'was' price in fen, if any; never below the price."),
        verbose_name=_("list price fen"),
    )
    # Its own photo (the colour a shopper picks); the square list thumbnail is made once on upload.
    image = models.ImageField(upload_to="catalog/skus/", blank=True, default="", editable=False)
    image_thumbnail = models.ImageField(upload_to="catalog/thumbnails/", blank=True, default="", editable=False)
    # Signed on purpose: the CheckConstraint, not the column type, refuses a negative
    # stock, so a conditional decrement that would overdraw fails the same way everywhere.
    stock = models.IntegerField(default=0, verbose_name=_("stock"))
    is_active = models.BooleanField(default=True, verbose_name=_("is active"))

    class Meta:
        ordering = ["price_fen", "code"]
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")
        indexes = [
            # The storefront looks up each product's cheapest active SKU.
            models.Index(fields=["product", "is_active", "price_fen", "id"], name="catalog_sku_cheapest_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stock__gte=0),
                name="catalog_sku_stock_not_negative",
                violation_error_message="Stock cannot be negative.",
            ),
            models.CheckConstraint(
                condition=models.Q(price_fen__gte=0),
                name="catalog_sku_price_not_negative",
                violation_error_message="Price cannot be negative.",
            ),
            models.CheckConstraint(
                condition=models.Q(list_price_fen__isnull=True) | models.Q(list_price_fen__gte=models.F("price_fen")),
                name="catalog_sku_list_price_not_below_price",
                violation_error_message="The list price cannot be below the price.",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class StockAdjustment(models.Model):
    """One change of a SKU's stock made by staff, kept for audit; written only by sku_stock_adjust."""

    sku = models.ForeignKey(Sku, on_delete=models.CASCADE, related_name="stock_adjustments", verbose_name=_("sku"))
    delta = models.IntegerField(help_text=_("Units added (positive) or removed (negative)."), verbose_name=_("delta"))
    reason = models.CharField(max_length=200, verbose_name=_("reason"))
    stock_after = models.IntegerField(
        help_text=_("The SKU's stock right after this change."), verbose_name=_("stock after")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("stock adjustment")
        verbose_name_plural = _("stock adjustments")
        constraints = [
            models.CheckConstraint(condition=~models.Q(delta=0), name="catalog_stockadjustment_delta_not_zero"),
            models.CheckConstraint(
                condition=models.Q(stock_after__gte=0), name="catalog_stockadjustment_stock_after_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.sku} {self.delta:+d}"


class ProductImage(models.Model):
    """A product photo and its two thumbnails, made once by product_image_thumbnails_make when it is uploaded."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images", verbose_name=_("product"))
    image = models.ImageField(upload_to="catalog/", verbose_name=_("image"))
    list_thumbnail = models.ImageField(
        upload_to="catalog/thumbnails/", blank=True, default="", editable=False, verbose_name=_("list thumbnail")
    )
    detail_thumbnail = models.ImageField(
        upload_to="catalog/thumbnails/", blank=True, default="", editable=False, verbose_name=_("detail thumbnail")
    )
    position = models.PositiveSmallIntegerField(
        default=0, help_text=_("The lowest position is the main image."), verbose_name=_("position")
    )

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("product image")
        verbose_name_plural = _("product images")
        indexes = [models.Index(fields=["product", "position", "id"], name="catalog_productimage_main_idx")]

    def __str__(self) -> str:
        return f"{self.product} image {self.position}"
