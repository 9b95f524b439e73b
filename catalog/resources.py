"""CSV/XLSX import and export of products and SKUs (django-import-export), for the admin.

An import is one transaction: the admin shows every row's errors on the dry run,
and a row that fails when the import is confirmed rolls back all of them.
Prices travel in yuan, as staff read them; stock changes an import makes to
existing SKUs are audited like any other adjustment.
"""

from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _
from import_export import fields, resources, widgets

from catalog.models import Category, Product, Sku
from catalog.services import (
    product_description_clean,
    product_detail_cache_invalidate,
    product_display_prices_refresh,
    sku_create,
    sku_stock_adjust,
)
from config.money import fen_from_yuan, yuan_from_fen


class YuanWidget(widgets.Widget):
    """A cell in yuan ("39.90") for a column in fen (3990); a fraction of a fen is refused, never rounded."""

    def clean(self, value, row=None, **kwargs) -> int | None:
        if value is None or str(value).strip() == "":
            return None
        try:
            yuan = Decimal(str(value).strip())
            return fen_from_yuan(yuan)
        except (InvalidOperation, ValueError) as error:
            raise ValueError(f"{value!r} is not an amount in yuan with at most two decimals, e.g. 39.90.") from error

    def render(self, value, obj=None, **kwargs) -> str:
        return "" if value is None else str(yuan_from_fen(value))


class ProductResource(resources.ModelResource):
    category = fields.Field(
        attribute="category", column_name="category", widget=widgets.ForeignKeyWidget(Category, field="slug")
    )

    class Meta:
        model = Product
        fields = ["id", "category", "title", "subtitle", "description", "is_active", "sales_count"]
        export_order = fields
        # Sales are counted by orders, not typed in.
        readonly_fields = ["sales_count"]
        clean_model_instances = True
        use_transactions = True
        skip_unchanged = True
        report_skipped = False

    def before_save_instance(self, instance, row, **kwargs):
        instance.description = product_description_clean(html=instance.description)

    def after_save_instance(self, instance, row, **kwargs):
        product_detail_cache_invalidate(product_ids=[instance.pk])


class SkuResource(resources.ModelResource):
    product = fields.Field(attribute="product", column_name="product", widget=widgets.ForeignKeyWidget(Product))
    specs = fields.Field(attribute="specs", column_name="specs", widget=widgets.JSONWidget())
    price = fields.Field(attribute="price_fen", column_name="price", widget=YuanWidget())
    list_price = fields.Field(attribute="list_price_fen", column_name="list_price", widget=YuanWidget())

    class Meta:
        model = Sku
        import_id_fields = ["code"]
        fields = ["code", "product", "specs", "price", "list_price", "stock", "is_active"]
        export_order = fields
        clean_model_instances = True
        use_transactions = True
        skip_unchanged = True
        report_skipped = False

    def before_import(self, dataset, **kwargs):
        self.touched_product_ids: set[int] = set()

    def after_import(self, dataset, result, **kwargs):
        product_display_prices_refresh(product_ids=self.touched_product_ids)
        product_detail_cache_invalidate(product_ids=self.touched_product_ids)

    def save_instance(self, instance, is_create, row, **kwargs):
        """Every stock change an import makes is audited: a new SKU's through sku_create, an existing one's by
        saving it with its old stock, then moving it to the imported stock with sku_stock_adjust."""
        if is_create:
            sku_create(sku=instance, by=kwargs.get("user"), reason=_("Initial stock (import)"))
        else:
            wanted_stock = instance.stock
            # A SKU moved to another product changes the one it left too.
            instance.stock, product_left_id = Sku.objects.values_list("stock", "product_id").get(pk=instance.pk)
            self.touched_product_ids.add(product_left_id)
            super().save_instance(instance, is_create, row, **kwargs)
            if wanted_stock != instance.stock:
                adjustment = sku_stock_adjust(
                    sku_id=instance.pk, delta=wanted_stock - instance.stock, reason=_("Import"), by=kwargs.get("user")
                )
                instance.stock = adjustment.stock_after
        self.touched_product_ids.add(instance.product_id)
