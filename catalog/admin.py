from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from import_export.admin import ImportExportMixin
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from catalog.exceptions import StockAdjustmentRefused
from catalog.models import Category, Product, ProductImage, Sku, StockAdjustment
from catalog.resources import ProductResource, SkuResource
from catalog.selectors import products_with_sku_summary
from catalog.services import (
    category_product_detail_cache_invalidate,
    product_description_clean,
    product_detail_cache_invalidate,
    product_display_prices_refresh,
    product_image_thumbnails_make,
    products_shelf_set,
    sku_create,
    sku_stock_adjust,
)
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
    list_price_fen = YuanPriceField(
        label="List price (¥)", required=False, help_text="Optional crossed-out price in yuan."
    )

    class Meta:
        model = Sku
        fields = ["code", "specs", "price_fen", "list_price_fen", "stock", "is_active"]
        # Sized so a SKU row fits a laptop screen; specs are a line or two of JSON.
        widgets = {
            "code": forms.TextInput(attrs={"size": 20}),
            "specs": forms.Textarea(attrs={"rows": 2, "cols": 28}),
        }
        labels = {"stock": "Stock"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Existing stock changes only through "Adjust stock", which audits and locks.
            self.fields["stock"].disabled = True
            self.fields["stock"].help_text = "Change it with Adjust stock."
        else:
            self.fields["stock"].help_text = "Initial stock; recorded as an adjustment."


class SkuInline(TabularInline):
    hide_title = True  # the row shows its code; no copy of it above
    model = Sku
    form = SkuAdminForm
    extra = 1
    readonly_fields = ["stock_adjust_link"]

    @admin.display(description="")
    def stock_adjust_link(self, sku: Sku) -> str:
        if not sku.pk:
            return ""
        return format_html('<a href="{}">Adjust stock</a>', reverse("admin:catalog_sku_adjust_stock", args=[sku.pk]))


class ProductImageInline(TabularInline):
    hide_title = True  # no "product image 0" above each thumbnail
    model = ProductImage
    fields = ["image", "position", "thumbnail_preview"]
    readonly_fields = ["thumbnail_preview"]
    extra = 1

    @admin.display(description="List thumbnail")
    def thumbnail_preview(self, product_image: ProductImage) -> str:
        if not product_image.list_thumbnail:
            return "—"
        return format_html('<img src="{}" width="80" height="80" alt="">', product_image.list_thumbnail.url)


class ProductAdminForm(forms.ModelForm):
    class Meta:
        model = Product
        fields = ["category", "title", "subtitle", "description", "is_active"]

    def clean_description(self) -> str:
        return product_description_clean(html=self.cleaned_data["description"])


class ImportNeedsAddAndChange:
    """Importing creates and changes rows, so it needs both permissions; export needs view."""

    # The theme's widgets on import-export's forms (unfold.contrib.import_export).
    import_form_class = ImportForm
    export_form_class = ExportForm

    def has_import_permission(self, request) -> bool:
        return self.has_add_permission(request) and self.has_change_permission(request)

    def has_export_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def get_import_data_kwargs(self, **kwargs):
        # The confirmed import also rolls back on a row that fails validation, not only on errors.
        return {**super().get_import_data_kwargs(**kwargs), "rollback_on_validation_errors": True}

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            self.message_user(
                request, "Nothing was imported: some rows are invalid. Import the file again to see them.", "ERROR"
            )
            return redirect(reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_import"))
        return super().process_result(result, request)


@admin.register(Category)
class CategoryAdmin(TreeAdmin, ModelAdmin):
    form = movenodeform_factory(Category, fields=["name", "slug", "position", "is_active"])
    list_display = ["name", "slug", "position", "is_active", "product_count"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(product_count=Count("products"))

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        category_product_detail_cache_invalidate(category=obj)

    @admin.display(description="Products", ordering="product_count")
    def product_count(self, category: Category) -> int:
        return category.product_count


@admin.register(Product)
class ProductAdmin(ImportNeedsAddAndChange, ImportExportMixin, ModelAdmin):
    form = ProductAdminForm
    resource_classes = [ProductResource]
    list_display = ["title", "category", "price_range", "total_stock", "sales_count", "is_active", "updated_at"]
    list_select_related = ["category"]
    list_filter = ["is_active", "category"]
    search_fields = ["title", "skus__code"]
    inlines = [SkuInline, ProductImageInline]
    actions = ["put_on_shelf", "take_off_shelf"]

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

    @admin.action(description="Put selected products on shelf", permissions=["change"])
    def put_on_shelf(self, request, queryset):
        changed = products_shelf_set(product_ids=queryset.values_list("pk", flat=True), on_shelf=True)
        self.message_user(request, f"{changed} product(s) put on shelf.", messages.SUCCESS)

    @admin.action(description="Take selected products off shelf", permissions=["change"])
    def take_off_shelf(self, request, queryset):
        changed = products_shelf_set(product_ids=queryset.values_list("pk", flat=True), on_shelf=False)
        self.message_user(request, f"{changed} product(s) taken off shelf.", messages.SUCCESS)

    def save_related(self, request, form, formsets, change):
        # Runs after the product's own fields, its SKU and image inlines are all saved.
        super().save_related(request, form, formsets, change)
        product_display_prices_refresh(product_ids=[form.instance.pk])
        product_detail_cache_invalidate(product_ids=[form.instance.pk])

    def delete_model(self, request, obj):
        product_id = obj.pk
        super().delete_model(request, obj)
        product_detail_cache_invalidate(product_ids=[product_id])

    def delete_queryset(self, request, queryset):
        product_ids = list(queryset.values_list("pk", flat=True))
        super().delete_queryset(request, queryset)
        product_detail_cache_invalidate(product_ids=product_ids)

    def save_formset(self, request, form, formset, change):
        if formset.model is Sku:
            self._save_skus(request, formset)
        elif formset.model is ProductImage:
            uploaded = [image_form for image_form in formset.forms if "image" in image_form.changed_data]
            formset.save()
            for image_form in uploaded:
                if image_form.instance.pk and image_form not in formset.deleted_forms:
                    product_image_thumbnails_make(product_image=image_form.instance)
        else:
            formset.save()

    def _save_skus(self, request, formset) -> None:
        skus = formset.save(commit=False)
        for sku in formset.deleted_objects:
            sku.delete()
        for sku in skus:
            if sku._state.adding:
                sku_create(sku=sku, by=request.user)
            else:
                sku.save()
        formset.save_m2m()


class StockAdjustForm(forms.Form):
    delta = forms.IntegerField(
        label="Change", help_text="Units to add (e.g. 20) or remove (e.g. -3). Stock never goes below zero."
    )
    reason = forms.CharField(max_length=200, help_text="Why, e.g. 'Delivery from the kiln' or 'Broken in storage'.")


@admin.register(Sku)
class SkuAdmin(ImportNeedsAddAndChange, ImportExportMixin, ModelAdmin):
    form = SkuAdminForm
    resource_classes = [SkuResource]
    fields = ["product", "code", "specs", "price_fen", "list_price_fen", "stock", "is_active"]
    list_display = ["code", "product", "price", "stock", "is_active", "stock_adjust_link"]
    list_select_related = ["product"]
    list_filter = ["is_active"]
    search_fields = ["code", "product__title"]
    autocomplete_fields = ["product"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = self.fields
        return super().get_form(request, obj, change, **kwargs)

    @admin.display(description="Price", ordering="price_fen")
    def price(self, sku: Sku) -> str:
        return format_fen(sku.price_fen)

    @admin.display(description="")
    def stock_adjust_link(self, sku: Sku) -> str:
        return format_html('<a href="{}">Adjust stock</a>', reverse("admin:catalog_sku_adjust_stock", args=[sku.pk]))

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            sku_create(sku=obj, by=request.user)
        # A SKU moved to another product changes both products' prices and detail pages.
        product_ids = {obj.product_id, form.initial.get("product", obj.product_id)}
        product_display_prices_refresh(product_ids=product_ids)
        product_detail_cache_invalidate(product_ids=product_ids)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        product_display_prices_refresh(product_ids=[obj.product_id])
        product_detail_cache_invalidate(product_ids=[obj.product_id])

    def delete_queryset(self, request, queryset):
        product_ids = set(queryset.values_list("product_id", flat=True))
        super().delete_queryset(request, queryset)
        product_display_prices_refresh(product_ids=product_ids)
        product_detail_cache_invalidate(product_ids=product_ids)

    def get_urls(self):
        adjust = path(
            "<int:sku_id>/adjust-stock/",
            self.admin_site.admin_view(self.adjust_stock_view),
            name="catalog_sku_adjust_stock",
        )
        return [adjust, *super().get_urls()]

    def adjust_stock_view(self, request, sku_id: int):
        if not request.user.has_perm("catalog.add_stockadjustment"):
            raise PermissionDenied
        sku = get_object_or_404(Sku.objects.select_related("product"), pk=sku_id)
        form = StockAdjustForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                adjustment = sku_stock_adjust(
                    sku_id=sku.pk, delta=form.cleaned_data["delta"], reason=form.cleaned_data["reason"], by=request.user
                )
            except StockAdjustmentRefused as refused:
                for field_name, field_messages in refused.fields.items():
                    for message in field_messages:
                        form.add_error(field_name if field_name in form.fields else None, message)
            else:
                self.message_user(
                    request, f"Stock of {sku.code} is now {adjustment.stock_after} ({adjustment.delta:+d}).", "SUCCESS"
                )
                return redirect(reverse("admin:catalog_product_change", args=[sku.product_id]))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust stock of {sku.code}",
            "opts": self.opts,
            "sku": sku,
            "form": form,
            "recent_adjustments": sku.stock_adjustments.select_related("created_by")[:10],
        }
        return TemplateResponse(request, "admin/catalog/sku/adjust_stock.html", context)


@admin.register(StockAdjustment)
class StockAdjustmentAdmin(ModelAdmin):
    """The audit log: written only through Adjust stock, never edited."""

    list_display = ["created_at", "sku", "delta", "stock_after", "reason", "created_by"]
    list_select_related = ["sku", "created_by"]
    list_filter = ["created_at"]
    search_fields = ["sku__code", "reason"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
