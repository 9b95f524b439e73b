from django.core.exceptions import ValidationError
from django.db import models


def validate_sku_specs(specs) -> None:
    # The storefront shows specs as "name: value" pairs, so nothing but text to text fits.
    if not isinstance(specs, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in specs.items()
    ):
        raise ValidationError(
            'Specs must be a JSON object of names to text, e.g. {"color": "white"}.', code="invalid_specs"
        )


class Category(models.Model):
    name = models.CharField(max_length=64)
    slug = models.SlugField(max_length=64, unique=True)
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower numbers come first in the storefront.")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["position", "name"]
        verbose_name = "category"
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Product(models.Model):
    """What the storefront lists; what a customer buys is one of its SKUs."""

    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "product"
        verbose_name_plural = "products"
        indexes = [
            # The storefront lists a category's active products, newest first.
            models.Index(fields=["category", "is_active", "-created_at"], name="catalog_product_listing_idx"),
        ]

    def __str__(self) -> str:
        return self.title


class Sku(models.Model):
    """One purchasable variant of a product, with its own price and stock."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="skus")
    code = models.CharField(max_length=64, unique=True, help_text="Unique stock-keeping code, e.g. MUG-350-WHITE.")
    specs = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_sku_specs],
        help_text='What sets this variant apart, e.g. {"color": "white", "size": "350 ml"}.',
    )
    price_fen = models.PositiveIntegerField(help_text="Price in fen: 3990 is ¥39.90.")
    # Signed on purpose: the CheckConstraint, not the column type, refuses a negative
    # stock, so a conditional decrement that would overdraw fails the same way everywhere.
    stock = models.IntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["price_fen", "code"]
        verbose_name = "SKU"
        verbose_name_plural = "SKUs"
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
        ]

    def __str__(self) -> str:
        return self.code


class ProductImage(models.Model):
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to="catalog/")
    position = models.PositiveSmallIntegerField(default=0, help_text="The lowest position is the main image.")

    class Meta:
        ordering = ["position", "id"]
        verbose_name = "product image"
        verbose_name_plural = "product images"

    def __str__(self) -> str:
        return f"{self.product} image {self.position}"
