from decimal import Decimal

from django import forms
from django.contrib import admin
from django.db.models import Count

from catalog.models import Category, Product, ProductImage, Sku
from catalog.selectors import products_with_sku_summary
from config.money import fen_from_yuan, format_fen, yuan_from_fen


class YuanPriceField(forms.DecimalField):
    """Staff type yuan (39.90), the model stores fen (3990).

    Typing fen invites hundredfold mistakes, so the form speaks yuan and converts
    exactly: more than two decimal places is refused, never rounded.
    """

    def __init__(self, **kwargs):
        # 9,999,999.99 yuan is 999,999,999 fen, which fits every database's integer column.
        super().__init__(max_digits=9, decimal_places=2, min_value=Decimal("0"), **kwargs)

    def prepare_value(self, value):
        # The model's value is an int of fen; anything else is what the user typed.
        if isinstance(value, int):
            return yuan_from_fen(value)
        return value

    def clean(self, value) -> int | None:
        # DecimalField has already refused a third decimal place, so this is exact.
        yuan = super().clean(value)
        return None if yuan is None else fen_from_yuan(yuan)

    def has_changed(self, initial, data) -> bool:
        return super().has_changed(self.prepare_value(initial), data)


class SkuAdminForm(forms.ModelForm):
    price_fen = YuanPriceField(label="Price (¥)", help_text="In yuan, e.g. 39.90.")

    class Meta:
        model = Sku
        fields = ["code", "specs", "price_fen", "stock", "is_active"]
        # Sized so a SKU row fits a laptop screen; specs are a line or two of JSON.
        widgets = {
            "code": forms.TextInput(attrs={"size": 20}),
            "specs": forms.Textarea(attrs={"rows": 2, "cols": 28}),
        }


class SkuInline(admin.TabularInline):
    model = Sku
    form = SkuAdminForm
    extra = 1


class ProductImageInline(admin.TabularInline):
    model = ProductImage
    fields = ["image", "position"]
    extra = 1


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "position", "is_active", "product_count"]
    list_editable = ["position", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("products"))

    @admin.display(description="Products", ordering="product_count")
    def product_count(self, category: Category) -> int:
        return category.product_count


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["title", "category", "price_range", "total_stock", "is_active", "updated_at"]
    list_select_related = ["category"]
    list_filter = ["is_active", "category"]
    search_fields = ["title", "skus__code"]
    inlines = [SkuInline, ProductImageInline]

    def get_queryset(self, request):
        return products_with_sku_summary(products=super().get_queryset(request))

    @admin.display(description="Price", ordering="min_price_fen")
    def price_range(self, product: Product) -> str:
        if product.min_price_fen is None:
            return "—"
        if product.min_price_fen == product.max_price_fen:
            return format_fen(product.min_price_fen)
        return f"{format_fen(product.min_price_fen)} – {format_fen(product.max_price_fen)}"

    @admin.display(description="Stock", ordering="total_stock")
    def total_stock(self, product: Product) -> int:
        return product.total_stock or 0
