from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse, reverse_lazy
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django_prose_editor.fields import ProseEditorFormField
from import_export.admin import ImportExportMixin
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.import_export.forms import ExportForm, ImportForm

from catalog.admin_fields import YuanPriceField
from catalog.admin_sku_matrix import SpecMatrixFormMixin
from catalog.exceptions import DescriptionImageRefused, StockAdjustmentRefused
from catalog.models import Category, Product, ProductImage, Sku, StockAdjustment
from catalog.resources import ProductResource, SkuResource
from catalog.selectors import products_with_sku_summary, skus_with_list_thumbnail
from catalog.services import (
    category_product_detail_cache_invalidate,
    product_description_clean,
    product_description_image_store,
    product_detail_cache_invalidate,
    product_display_prices_refresh,
    product_image_thumbnails_make,
    product_sku_matrix_save,
    products_shelf_set,
    sku_create,
    sku_stock_adjust,
)
from catalog.spec_matrix import specs_text
from config.admin_thumbnails import list_thumbnail_html
from config.money import format_fen
from config.rich_text_editor import RICH_TEXT_EXTENSIONS, ImageUploadEditorWidget


class SkuAdminForm(forms.ModelForm):
    price_fen = YuanPriceField(label=_("Price (¥)"), help_text=_("In yuan, e.g. 39.90."))
    list_price_fen = YuanPriceField(
        label=_("List price (¥)"), required=False, help_text=_("Optional crossed-out price in yuan.")
    )

    class Meta:
        model = Sku
        # Specs are set in the product's spec table, never typed as JSON.
        fields = ["code", "price_fen", "list_price_fen", "stock", "is_active"]
        widgets = {"code": forms.TextInput(attrs={"size": 20})}
        labels = {"stock": _("Stock")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # Existing stock changes only through "Adjust stock", which audits and locks.
            self.fields["stock"].disabled = True
            self.fields["stock"].help_text = _("Change it with Adjust stock.")
        else:
            self.fields["stock"].help_text = _("Initial stock; recorded as an adjustment.")

    def clean(self):
        cleaned_data = super().clean()
        product = cleaned_data.get("product")
        # One SKU without specs is all a product without dimensions can hold; the rest belong in its matrix.
        if not self.instance.pk and product is not None and (product.spec_dimensions or product.skus.exists()):
            self.add_error(
                "product", _("This product already has SKUs: add more in the spec table on the product's page.")
            )
        return cleaned_data


class ProductImageForm(forms.ModelForm):
    def has_changed(self) -> bool:
        # Dragging numbers every row's position, the empty "add another" row's too; a row without
        # a photo is still an empty row, not one missing its photo.
        if not self.instance.pk and not self.files.get(self.add_prefix("image")):
            return False
        return super().has_changed()


class ProductImageInline(TabularInline):
    hide_title = True  # no "product image 0" above each thumbnail
    model = ProductImage
    form = ProductImageForm
    fields = ["image", "position", "thumbnail_preview"]
    readonly_fields = ["thumbnail_preview"]
    extra = 1
    # Dragged into order with the theme's own sortable rows (served locally); the storefront shows them
    # in this order, the first as the main image.
    ordering_field = "position"
    hide_ordering_field = True

    @admin.display(description=_("List thumbnail"))
    def thumbnail_preview(self, product_image: ProductImage) -> str:
        if not product_image.list_thumbnail:
            return "—"
        return format_html(
            '<img src="{}" width="80" height="80" alt="" loading="lazy">', product_image.list_thumbnail.url
        )


# The product description's editor: the articles' editor (config/rich_text_editor.py) with the marks
# product_description_clean keeps for the Mini Program's <rich-text>: no links, no inline styles.
DESCRIPTION_EDITOR_EXTENSIONS = {
    "Heading": {"levels": [2, 3]},
    **RICH_TEXT_EXTENSIONS,
    "WeChatImage": {"uploadUrl": reverse_lazy("admin:catalog_product_upload_description_image")},
    "HTML": True,
}


class ProductAdminForm(SpecMatrixFormMixin, forms.ModelForm):
    description = ProseEditorFormField(
        label=_("Description"),
        required=False,
        config={"extensions": DESCRIPTION_EDITOR_EXTENSIONS},
        widget=ImageUploadEditorWidget,
        sanitize=lambda html: product_description_clean(html=html),
        help_text=_("Shown on the product's page in the Mini Program; images are resized to the page's width."),
    )

    class Meta:
        model = Product
        fields = ["category", "title", "subtitle", "description", "is_active"]


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
                request, _("Nothing was imported: some rows are invalid. Import the file again to see them."), "ERROR"
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

    @admin.display(description=_("Products"), ordering="product_count")
    def product_count(self, category: Category) -> int:
        return category.product_count


@admin.register(Product)
class ProductAdmin(ImportNeedsAddAndChange, ImportExportMixin, ModelAdmin):
    form = ProductAdminForm
    resource_classes = [ProductResource]
    list_display = [
        "thumbnail",
        "title",
        "category",
        "price_range",
        "total_stock",
        "sales_count",
        "is_active",
        "updated_at",
    ]
    list_display_links = ["title"]
    list_select_related = ["category"]
    list_filter = ["is_active", "category"]
    search_fields = ["title", "skus__code"]
    # The dimensions' hidden field is drawn with the SKU matrix (change_form_template), not in a fieldset.
    fields = ["category", "title", "subtitle", "description", "is_active"]
    inlines = [ProductImageInline]
    # The spec dimensions and the SKU matrix between the product's fields and its images.
    change_form_template = "admin/catalog/product/change_form.html"
    actions = ["put_on_shelf", "take_off_shelf"]

    def get_queryset(self, request):
        return products_with_sku_summary(products=super().get_queryset(request))

    @admin.display(description=_("Image"))
    def thumbnail(self, product: Product) -> str:
        return list_thumbnail_html(media_name=product.list_thumbnail_name)

    @admin.display(description=_("Price"), ordering="min_price_fen")
    def price_range(self, product: Product) -> str:
        if product.min_price_fen is None:
            return "—"
        if product.min_price_fen == product.max_price_fen:
            return format_fen(product.min_price_fen)
        return f"{format_fen(product.min_price_fen)} – {format_fen(product.max_price_fen)}"

    @admin.display(description=_("Stock"), ordering="total_stock")
    def total_stock(self, product: Product) -> int:
        return product.total_stock or 0

    @admin.action(description=_("Put selected products on shelf"), permissions=["change"])
    def put_on_shelf(self, request, queryset):
        changed = products_shelf_set(product_ids=queryset.values_list("pk", flat=True), on_shelf=True)
        self.message_user(request, _("%(changed)s product(s) put on shelf.") % {"changed": changed}, messages.SUCCESS)

    @admin.action(description=_("Take selected products off shelf"), permissions=["change"])
    def take_off_shelf(self, request, queryset):
        changed = products_shelf_set(product_ids=queryset.values_list("pk", flat=True), on_shelf=False)
        self.message_user(
            request, _("%(changed)s product(s) taken off shelf.") % {"changed": changed}, messages.SUCCESS
        )

    def save_related(self, request, form, formsets, change):
        # Runs after the product's own fields and its image inline are saved; the SKU matrix was checked
        # by the form and is saved by the service, which refreshes prices and the detail cache.
        super().save_related(request, form, formsets, change)
        product_sku_matrix_save(
            product=form.instance,
            dimensions=form.cleaned_data["spec_dimensions"] or [],
            rows=form.cleaned_data["sku_matrix_rows"],
            by=request.user,
        )
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
        if formset.model is ProductImage:
            product_images_save(formset=formset)
        else:
            formset.save()

    def get_urls(self):
        upload = path(
            "upload-description-image/",
            self.admin_site.admin_view(self.upload_description_image_view),
            name="catalog_product_upload_description_image",
        )
        return [upload, *super().get_urls()]

    def upload_description_image_view(self, request):
        """The description editor's image button: the photo resized for the detail page, or why not."""
        if request.method != "POST":
            return JsonResponse({"error": _("Upload with POST.")}, status=405)
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        upload = request.FILES.get("image")
        if upload is None:
            return JsonResponse({"error": _("Choose an image to upload.")}, status=400)
        try:
            url = product_description_image_store(upload=upload)
        except DescriptionImageRefused as refusal:
            return JsonResponse({"error": refusal.message}, status=400)
        return JsonResponse({"url": url}, status=201)


def product_images_save(*, formset) -> None:
    """Save the image rows; a new photo goes after the others and gets its thumbnails once."""
    uploaded = [image_form for image_form in formset.forms if "image" in image_form.changed_data]
    next_position = 1 + max(
        (image_form.instance.position for image_form in formset.initial_forms if image_form.instance.pk),
        default=-1,
    )
    for image_form in formset.extra_forms:
        if image_form.has_changed() and "position" not in image_form.changed_data:
            image_form.instance.position = next_position
            next_position += 1
    formset.save()
    for image_form in uploaded:
        if image_form.instance.pk and image_form not in formset.deleted_forms:
            product_image_thumbnails_make(product_image=image_form.instance)


class StockAdjustForm(forms.Form):
    delta = forms.IntegerField(
        label=_("Change"), help_text=_("Units to add (e.g. 20) or remove (e.g. -3). Stock never goes below zero.")
    )
    reason = forms.CharField(
        max_length=200, help_text=_("Why, e.g. 'Delivery from the kiln' or 'Broken in storage'."), label=_("Reason")
    )


@admin.register(Sku)
class SkuAdmin(ImportNeedsAddAndChange, ImportExportMixin, ModelAdmin):
    form = SkuAdminForm
    resource_classes = [SkuResource]
    fields = ["product", "specs_display", "code", "price_fen", "list_price_fen", "stock", "is_active"]
    list_display = ["thumbnail", "code", "product", "specs_display", "price", "stock", "is_active", "stock_adjust_link"]
    list_display_links = ["code"]
    list_select_related = ["product"]
    list_filter = ["is_active"]
    search_fields = ["code", "product__title"]
    autocomplete_fields = ["product"]

    def get_queryset(self, request):
        return skus_with_list_thumbnail(skus=super().get_queryset(request))

    def get_fields(self, request, obj=None):
        return self.fields if obj else [name for name in self.fields if name != "specs_display"]

    def get_readonly_fields(self, request, obj=None):
        # A SKU stays with its product: another product's spec table would not know its specs.
        return ["product", "specs_display"] if obj else []

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = [
            name for name in self.get_fields(request, obj) if name not in self.get_readonly_fields(request, obj)
        ]
        return super().get_form(request, obj, change, **kwargs)

    @admin.display(description=_("Image"))
    def thumbnail(self, sku: Sku) -> str:
        return list_thumbnail_html(media_name=sku.list_thumbnail_name)

    @admin.display(description=_("Specs"))
    def specs_display(self, sku: Sku) -> str:
        return specs_text(sku.specs)

    @admin.display(description=_("Price"), ordering="price_fen")
    def price(self, sku: Sku) -> str:
        return format_fen(sku.price_fen)

    @admin.display(description="")
    def stock_adjust_link(self, sku: Sku) -> str:
        return format_html(_('<a href="{}">Adjust stock</a>'), reverse("admin:catalog_sku_adjust_stock", args=[sku.pk]))

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
                    request,
                    _("Stock of %(code)s is now %(stock_after)s (%(delta)s).")
                    % {
                        "code": sku.code,
                        "stock_after": adjustment.stock_after,
                        "delta": format(adjustment.delta, "+d"),
                    },
                    "SUCCESS",
                )
                return redirect(reverse("admin:catalog_product_change", args=[sku.product_id]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Adjust stock of %(code)s") % {"code": sku.code},
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
