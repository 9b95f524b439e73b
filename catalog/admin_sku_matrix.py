"""The product page's spec dimensions and SKU matrix: forms checked on the server, drawn by spec_matrix_editor.js.

Staff edit dimensions as value chips; the script writes them to a hidden JSON field and keeps one
row of the `matrix` formset per combination. Every rule is checked here again (the script is a
convenience, not a guard), and the save goes through catalog.services.product_sku_matrix_save.
"""

import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from catalog import spec_matrix
from catalog.admin_fields import YuanPriceField
from catalog.models import Product, Sku, validate_sku_specs
from catalog.services import SkuMatrixRow, sku_matrix_problems

MATRIX_PREFIX = "matrix"


class SkuMatrixRowForm(forms.Form):
    specs = forms.CharField(widget=forms.HiddenInput)
    image = forms.ImageField(label=_("Image"), required=False, widget=forms.FileInput(attrs={"accept": "image/*"}))
    image_clear = forms.BooleanField(label=_("Remove image"), required=False)
    code = forms.CharField(
        label=_("SKU code"), max_length=64, required=False, widget=forms.TextInput(attrs={"size": 14})
    )
    price = YuanPriceField(label=_("Price (¥)"), required=False, widget=forms.NumberInput(attrs={"step": "0.01"}))
    list_price = YuanPriceField(
        label=_("List price (¥)"), required=False, widget=forms.NumberInput(attrs={"step": "0.01"})
    )
    stock = forms.IntegerField(label=_("Stock"), min_value=0, required=False, initial=0)
    is_active = forms.BooleanField(label=_("On sale"), required=False, initial=True)

    def __init__(self, *args, existing_skus_by_key: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.existing_skus_by_key = existing_skus_by_key or {}

    def clean_specs(self) -> dict[str, str]:
        try:
            specs = json.loads(self.cleaned_data["specs"])
            validate_sku_specs(specs)
        except (ValueError, ValidationError) as error:
            raise ValidationError(_("This row's specs could not be read; reload the page and try again.")) from error
        return specs

    @property
    def existing_sku(self) -> Sku | None:
        """The SKU this row saves to, found by its specs as the service will; for showing its stock and image."""
        raw_specs = self["specs"].value()
        try:
            specs = json.loads(raw_specs) if isinstance(raw_specs, str) else raw_specs
            return self.existing_skus_by_key.get(spec_matrix.spec_key(specs))
        except (TypeError, ValueError, AttributeError):
            return None

    @property
    def spec_values(self) -> list[str]:
        sku_specs = self.cleaned_data.get("specs") if hasattr(self, "cleaned_data") else None
        if sku_specs is None:
            try:
                sku_specs = json.loads(self["specs"].value() or "{}")
            except (TypeError, ValueError):
                sku_specs = {}
        return list(sku_specs.values()) if isinstance(sku_specs, dict) else []

    def matrix_row(self) -> SkuMatrixRow:
        data = self.cleaned_data
        return SkuMatrixRow(
            specs=data["specs"],
            code=data.get("code") or "",
            price_fen=data.get("price"),
            list_price_fen=data.get("list_price"),
            stock=data.get("stock") or 0,
            is_active=bool(data.get("is_active")),
            image=data.get("image") or None,
            image_cleared=bool(data.get("image_clear")),
        )


SkuMatrixFormSet = forms.formset_factory(SkuMatrixRowForm, extra=0, max_num=spec_matrix.MAX_COMBINATIONS)


def sku_matrix_formset(*, product: Product | None, data=None, files=None) -> forms.BaseFormSet:
    """The matrix as posted, or, for a fresh page, one row per existing SKU in matrix order."""
    existing = list(Sku.objects.filter(product=product).order_by("-is_active", "id")) if product and product.pk else []
    existing_by_key: dict = {}
    for sku in existing:
        existing_by_key.setdefault(spec_matrix.spec_key(sku.specs), sku)
    kwargs = {"prefix": MATRIX_PREFIX, "form_kwargs": {"existing_skus_by_key": existing_by_key}}
    if data is not None:
        return SkuMatrixFormSet(data, files, **kwargs)
    dimensions = product_spec_dimensions(product=product, skus=existing)
    initial = []
    for specs in spec_matrix.spec_combinations(dimensions):
        sku = existing_by_key.get(spec_matrix.spec_key(specs))
        # A combination an existing product never sold starts off sale, so saving it unchanged stays valid.
        row = {"specs": json.dumps(specs, ensure_ascii=False), "is_active": sku.is_active if sku else not existing}
        if sku is not None:
            row |= {"code": sku.code, "price": sku.price_fen, "list_price": sku.list_price_fen, "stock": sku.stock}
        initial.append(row)
    return SkuMatrixFormSet(initial=initial, **kwargs)


def product_spec_dimensions(*, product: Product | None, skus: list[Sku]) -> list[dict]:
    """The stored dimensions, with the values of SKUs that they lack (imported SKUs, older rows).

    Once the matrix editor has stored dimensions, a SKU off sale outside them was taken out of the
    matrix on purpose (an ordered SKU whose value was removed) and does not bring its value back.
    """
    stored = product.spec_dimensions if product is not None else []
    shown = [sku for sku in skus if sku.is_active or not stored]
    return spec_matrix.spec_dimensions_from_specs((sku.specs for sku in shown), stored=stored)


class SpecMatrixFormMixin(forms.Form):
    """Adds the dimensions field and the nested matrix formset to the product's ModelForm."""

    spec_dimensions = forms.JSONField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        product = self.instance if self.instance.pk else None
        self.sku_matrix = sku_matrix_formset(
            product=product, data=self.data if self.is_bound else None, files=self.files if self.is_bound else None
        )
        if not self.is_bound:
            skus = list(Sku.objects.filter(product=product)) if product else []
            self.initial["spec_dimensions"] = product_spec_dimensions(product=product, skus=skus)

    def clean(self):
        cleaned_data = super().clean()
        dimensions = cleaned_data.get("spec_dimensions")
        if dimensions is None:
            dimensions = []
        if not self.sku_matrix.is_valid():
            self.add_error("spec_dimensions", _("Correct the SKU rows marked below."))
            return cleaned_data
        rows = [row_form.matrix_row() for row_form in self.sku_matrix.forms]
        product_id = self.instance.pk
        for row_index, field_name, message in sku_matrix_problems(
            product_id=product_id, dimensions=dimensions, rows=rows
        ):
            if row_index is None:
                self.add_error("spec_dimensions", message)
            else:
                self.sku_matrix.forms[row_index].add_error(field_name, message)
        if any(row_form.errors for row_form in self.sku_matrix.forms) and "spec_dimensions" not in self.errors:
            self.add_error("spec_dimensions", _("Correct the SKU rows marked below."))
        cleaned_data["sku_matrix_rows"] = rows
        return cleaned_data
