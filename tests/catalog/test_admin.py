import io
import json
from pathlib import Path

import openpyxl
import pytest
import tablib
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from catalog.admin import ProductAdmin, SkuAdmin
from catalog.models import Category, Product, ProductImage, Sku, StockAdjustment
from catalog.resources import SkuResource
from catalog.selectors import category_tree
from tests.admin_pages import changelist_cells
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory, SkuFactory

pytestmark = pytest.mark.django_db

# Session, user, the category filter's choices, two counts, the page of rows:
# the same whether the page holds one product or twenty.
PRODUCT_CHANGELIST_QUERY_LIMIT = 6
# Session, user, two counts, the page of rows and treebeard's lookup of the level shown.
CATEGORY_CHANGELIST_QUERY_LIMIT = 6


def _inline_management_form(prefix: str, *, total: int, initial: int = 0) -> dict:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def _matrix_form(*, dimensions: list[dict], rows: list[dict]) -> dict:
    """What the product page posts for its spec dimensions and SKU matrix (spec_matrix_editor.js writes it)."""
    form = {
        "spec_dimensions": json.dumps(dimensions, ensure_ascii=False),
        **_inline_management_form("matrix", total=len(rows)),
    }
    for index, row in enumerate(rows):
        fields = {"is_active": "on", **row, "specs": json.dumps(row["specs"], ensure_ascii=False)}
        form |= {f"matrix-{index}-{name}": value for name, value in fields.items()}
    return form


def _product_add_form(*, category_id: int, price: str) -> dict:
    return {
        "category": str(category_id),
        "title": "Ceramic mug",
        "description": "",
        "is_active": "on",
        **_matrix_form(
            dimensions=[{"name": "color", "values": ["white"]}],
            rows=[{"specs": {"color": "white"}, "code": "MUG-350-WHITE", "price": price, "stock": "12"}],
        ),
        **_inline_management_form("images", total=0),
    }


def _product_change_form(sku: Sku, *, price: str = "39.90", **row) -> dict:
    """The page of a product with one SKU without specs, as a browser posts it back."""
    return {
        "category": str(sku.product.category_id),
        "title": sku.product.title,
        "description": sku.product.description,
        "is_active": "on",
        **_matrix_form(dimensions=[], rows=[{"specs": {}, "code": sku.code, "price": price, **row}]),
        **_inline_management_form("images", total=0),
    }


def test_product_changelist_shows_price_range_and_stock_in_bounded_queries(admin_client, django_assert_max_num_queries):
    for number in range(20):
        product = ProductFactory(title=f"Mug {number}")
        SkuFactory(product=product, price_fen=3990, stock=4)
        SkuFactory(product=product, price_fen=4500, stock=6)
        ProductImageFactory(product=product)

    with django_assert_max_num_queries(PRODUCT_CHANGELIST_QUERY_LIMIT):
        response = admin_client.get(reverse("admin:catalog_product_changelist"))

    assert response.status_code == 200
    page = response.content.decode()
    assert "¥39.90 – ¥45.00" in page
    assert set(changelist_cells(page, "total_stock")) == {"10"}


def test_product_changelist_searches_sku_codes_without_duplicates(admin_client):
    product = ProductFactory(title="Tea set")
    SkuFactory(product=product, code="TEASET-6CUP")
    SkuFactory(product=product, code="TEASET-8CUP")
    ProductFactory(title="Mug")

    response = admin_client.get(reverse("admin:catalog_product_changelist"), {"q": "TEASET"})

    assert list(response.context["cl"].result_list) == [product]


def test_category_changelist_counts_products(admin_client, django_assert_max_num_queries):
    for _ in range(10):
        ProductFactory(category=CategoryFactory())

    with django_assert_max_num_queries(CATEGORY_CHANGELIST_QUERY_LIMIT):
        response = admin_client.get(reverse("admin:catalog_category_changelist"))

    assert response.status_code == 200


def test_adding_a_product_takes_sku_price_in_yuan_and_stores_fen(admin_client):
    category = CategoryFactory()

    response = admin_client.post(
        reverse("admin:catalog_product_add"), _product_add_form(category_id=category.pk, price="39.90")
    )

    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    sku = Sku.objects.get()
    assert (sku.product.title, sku.price_fen, sku.stock, sku.specs) == ("Ceramic mug", 3990, 12, {"color": "white"})


def test_a_price_with_a_fraction_of_a_fen_is_refused(admin_client):
    category = CategoryFactory()

    response = admin_client.post(
        reverse("admin:catalog_product_add"), _product_add_form(category_id=category.pk, price="39.999")
    )

    assert response.status_code == 200
    assert not Product.objects.exists()
    assert "Ensure that there are no more than 2 decimal places." in response.content.decode()


def test_a_negative_stock_is_refused_with_the_constraint_message(admin_client):
    category = CategoryFactory()
    form = _product_add_form(category_id=category.pk, price="39.90") | {"matrix-0-stock": "-1"}

    response = admin_client.post(reverse("admin:catalog_product_add"), form)

    assert response.status_code == 200
    assert "Ensure this value is greater than or equal to 0." in response.content.decode()


def test_product_change_form_shows_sku_price_in_yuan(admin_client):
    sku = SkuFactory(price_fen=12800)

    response = admin_client.get(reverse("admin:catalog_product_change", args=[sku.product_id]))

    assert response.status_code == 200
    assert 'name="matrix-0-price" value="128.00"' in response.content.decode()


def test_saving_a_product_unchanged_leaves_its_sku_unchanged(admin_client):
    sku = SkuFactory(price_fen=3990)
    before = Sku.objects.values().get(pk=sku.pk)

    response = admin_client.post(
        reverse("admin:catalog_product_change", args=[sku.product_id]), _product_change_form(sku, price="39.90")
    )

    assert response.status_code == 302
    assert Sku.objects.values().get(pk=sku.pk) == before


# --- product editor: descriptions, initial stock, images --------------------------


def test_saving_a_product_cleans_its_description(admin_client):
    category = CategoryFactory()
    form = _product_add_form(category_id=category.pk, price="39.90") | {
        "description": '<p onclick="x()">景德镇</p><script>alert(1)</script>'
    }

    response = admin_client.post(reverse("admin:catalog_product_add"), form)

    assert response.status_code == 302
    assert Product.objects.get().description == "<p>景德镇</p>"


def test_a_new_skus_stock_is_recorded_as_an_adjustment_by_the_staff_member(admin_client, admin_user):
    admin_client.post(
        reverse("admin:catalog_product_add"), _product_add_form(category_id=CategoryFactory().pk, price="39.90")
    )

    adjustment = StockAdjustment.objects.get()
    assert (adjustment.sku.code, adjustment.delta, adjustment.stock_after, adjustment.reason) == (
        "MUG-350-WHITE",
        12,
        12,
        "Initial stock",
    )
    assert adjustment.created_by == admin_user


def test_a_sku_added_on_its_own_page_gets_its_stock_as_an_adjustment_by_the_staff_member(admin_client, admin_user):
    product = ProductFactory()
    form = {
        "product": str(product.pk),
        "code": "MUG-350-BLUE",
        "specs": '{"color": "blue"}',
        "price_fen": "42.00",
        "stock": "5",
        "is_active": "on",
    }

    response = admin_client.post(reverse("admin:catalog_sku_add"), form)

    assert response.status_code == 302
    sku = Sku.objects.get(code="MUG-350-BLUE")
    assert (sku.stock, sku.price_fen) == (5, 4200)
    adjustment = StockAdjustment.objects.get()
    assert (adjustment.sku, adjustment.delta, adjustment.stock_after, adjustment.reason, adjustment.created_by) == (
        sku,
        5,
        5,
        "Initial stock",
        admin_user,
    )
    assert _display_price(product) == 4200


def test_an_existing_skus_stock_cannot_be_typed_over_in_the_editor(admin_client):
    sku = SkuFactory(stock=7)

    response = admin_client.post(
        reverse("admin:catalog_product_change", args=[sku.product_id]), _product_change_form(sku, stock="999")
    )

    assert response.status_code == 302
    sku.refresh_from_db()
    assert sku.stock == 7


def test_uploading_an_image_in_the_editor_makes_its_thumbnails_once(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    sku = SkuFactory()
    buffer = io.BytesIO()
    Image.new("RGB", (1000, 800), "teal").save(buffer, format="JPEG")
    upload = SimpleUploadedFile("mug.jpg", buffer.getvalue(), content_type="image/jpeg")
    form = _product_change_form(sku) | {
        **_inline_management_form("images", total=1),
        "images-0-image": upload,
        "images-0-position": "0",
    }

    response = admin_client.post(reverse("admin:catalog_product_change", args=[sku.product_id]), form)

    assert response.status_code == 302
    image = ProductImage.objects.get()
    assert Path(image.list_thumbnail.path).is_file() and Path(image.detail_thumbnail.path).is_file()
    with Image.open(image.list_thumbnail.path) as list_thumbnail:
        assert list_thumbnail.size == (375, 375)
    assert len([path for path in tmp_path.rglob("*") if path.is_file()]) == 3


# --- stock adjustments -----------------------------------------------------------


def test_adjusting_stock_in_the_admin_records_the_staff_member(admin_client, admin_user):
    sku = SkuFactory(stock=5)

    response = admin_client.post(
        reverse("admin:catalog_sku_adjust_stock", args=[sku.pk]), {"delta": "20", "reason": "Kiln delivery"}
    )

    assert response.status_code == 302
    sku.refresh_from_db()
    assert sku.stock == 25
    adjustment = StockAdjustment.objects.get()
    assert (adjustment.delta, adjustment.stock_after, adjustment.reason, adjustment.created_by) == (
        20,
        25,
        "Kiln delivery",
        admin_user,
    )


def test_removing_more_than_is_in_stock_is_a_form_error_and_changes_nothing(admin_client):
    sku = SkuFactory(code="MUG-1", stock=2)

    response = admin_client.post(
        reverse("admin:catalog_sku_adjust_stock", args=[sku.pk]), {"delta": "-5", "reason": "Count"}
    )

    assert response.status_code == 200
    assert response.context["form"].errors == {
        "delta": ["Stock cannot go below zero: MUG-1 has 2, so at most 2 can be removed."]
    }
    sku.refresh_from_db()
    assert sku.stock == 2
    assert not StockAdjustment.objects.exists()


def test_marketing_cannot_adjust_stock_and_nobody_edits_the_audit_log(client, admin_client, django_user_model):
    sku = SkuFactory(stock=2)
    marketer = django_user_model.objects.create_user(username="marketer", is_staff=True)
    marketer.groups.add(Group.objects.get(name="Marketing"))
    client.force_login(marketer)

    refused = client.post(reverse("admin:catalog_sku_adjust_stock", args=[sku.pk]), {"delta": "5", "reason": "x"})

    assert refused.status_code == 403
    assert admin_client.get(reverse("admin:catalog_stockadjustment_add")).status_code == 403


def test_operations_can_adjust_stock(client, django_user_model):
    sku = SkuFactory(stock=2)
    operator = django_user_model.objects.create_user(username="operator", is_staff=True)
    operator.groups.add(Group.objects.get(name="Operations"))
    client.force_login(operator)

    response = client.post(reverse("admin:catalog_sku_adjust_stock", args=[sku.pk]), {"delta": "5", "reason": "x"})

    assert response.status_code == 302
    assert StockAdjustment.objects.get().created_by == operator


# --- shelf actions ---------------------------------------------------------------


@pytest.mark.parametrize(("action", "on_shelf"), [("put_on_shelf", True), ("take_off_shelf", False)])
def test_bulk_shelf_actions(admin_client, action, on_shelf):
    chosen = [ProductFactory(is_active=not on_shelf) for _ in range(3)]
    untouched = ProductFactory(is_active=not on_shelf)

    response = admin_client.post(
        reverse("admin:catalog_product_changelist"),
        {"action": action, "_selected_action": [str(product.pk) for product in chosen]},
    )

    assert response.status_code == 302
    assert set(Product.objects.filter(is_active=on_shelf).values_list("pk", flat=True)) == {p.pk for p in chosen}
    untouched.refresh_from_db()
    assert untouched.is_active is not on_shelf


# --- import and export -----------------------------------------------------------


def _csv_upload(rows: list[str]) -> SimpleUploadedFile:
    return SimpleUploadedFile("import.csv", "\n".join(rows).encode(), content_type="text/csv")


def _format_index(admin_class, extension: str) -> str:
    formats = admin_class(Product, admin.site).get_import_formats()
    return str(next(index for index, fmt in enumerate(formats) if fmt().get_title() == extension))


SKU_HEADER = "code,product,specs,price,list_price,stock,is_active"


def test_importing_skus_with_one_bad_row_shows_the_row_error_and_imports_nothing(admin_client):
    product = ProductFactory()
    rows = [
        SKU_HEADER,
        f'MUG-1,{product.pk},"{{""颜色"": ""月白""}}",39.90,59.90,10,1',
        f"MUG-2,{product.pk},{{}},45.999,,5,1",
        f"MUG-3,{product.pk},{{}},12.00,,3,1",
    ]

    response = admin_client.post(
        reverse("admin:catalog_sku_import"),
        {"import_file": _csv_upload(rows), "format": _format_index(SkuAdmin, "csv"), "resource": "0"},
    )

    assert response.status_code == 200
    result = response.context["result"]
    assert result.has_validation_errors()
    assert [row.number for row in result.invalid_rows] == [2]
    assert "45.999" in response.content.decode()
    assert "confirm_form" not in response.context
    assert not Sku.objects.exists()


def test_a_bad_row_met_while_importing_rolls_back_every_row(admin_user):
    product = ProductFactory()
    dataset = tablib.Dataset(headers=SKU_HEADER.split(","))
    dataset.append(["MUG-1", product.pk, "{}", "39.90", "", "10", "1"])
    dataset.append(["MUG-2", product.pk, "{}", "12.00", "", "-4", "1"])

    result = SkuResource().import_data(
        dataset, dry_run=False, raise_errors=False, rollback_on_validation_errors=True, user=admin_user
    )

    assert result.has_validation_errors()
    assert not Sku.objects.exists()
    assert not StockAdjustment.objects.exists()


def test_confirming_a_sku_import_saves_prices_in_fen_and_audits_stock_changes(admin_client, admin_user):
    product = ProductFactory()
    existing = SkuFactory(product=product, code="MUG-1", stock=4)
    rows = [SKU_HEADER, f"MUG-1,{product.pk},{{}},39.90,59.90,10,1", f"MUG-2,{product.pk},{{}},12.00,,3,0"]

    preview = admin_client.post(
        reverse("admin:catalog_sku_import"),
        {"import_file": _csv_upload(rows), "format": _format_index(SkuAdmin, "csv"), "resource": "0"},
    )
    confirm = preview.context["confirm_form"]
    response = admin_client.post(reverse("admin:catalog_sku_process_import"), confirm.initial)

    assert response.status_code == 302
    existing.refresh_from_db()
    assert (existing.price_fen, existing.list_price_fen, existing.stock) == (3990, 5990, 10)
    created = Sku.objects.get(code="MUG-2")
    assert (created.price_fen, created.list_price_fen, created.stock, created.is_active) == (1200, None, 3, False)
    assert _display_price(product) == 3990  # the cheaper new SKU is inactive
    assert sorted(StockAdjustment.objects.values_list("sku__code", "delta", "stock_after", "created_by")) == [
        ("MUG-1", 6, 10, admin_user.pk),
        ("MUG-2", 3, 3, admin_user.pk),
    ]


def test_importing_products_cleans_descriptions_and_finds_categories_by_slug(admin_client):
    category = CategoryFactory(slug="kitchen")
    rows = [
        "id,category,title,subtitle,description,is_active",
        ',kitchen,马克杯,月白,"<p>ok</p><script>x</script>",1',
    ]

    preview = admin_client.post(
        reverse("admin:catalog_product_import"),
        {"import_file": _csv_upload(rows), "format": _format_index(ProductAdmin, "csv"), "resource": "0"},
    )
    admin_client.post(reverse("admin:catalog_product_process_import"), preview.context["confirm_form"].initial)

    product = Product.objects.get()
    assert (product.category, product.title, product.description) == (category, "马克杯", "<p>ok</p>")


def test_exporting_skus_as_xlsx_gives_prices_in_yuan(admin_client):
    SkuFactory(code="MUG-1", price_fen=3990, list_price_fen=5990)
    formats = SkuAdmin(Sku, admin.site).get_export_formats()
    xlsx = str(next(index for index, fmt in enumerate(formats) if fmt().get_title() == "xlsx"))

    response = admin_client.post(
        reverse("admin:catalog_sku_export"),
        {"format": xlsx, "resource": "0", **{f"skuresource_{name}": "on" for name in SKU_HEADER.split(",")}},
    )

    assert response.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == tuple(SKU_HEADER.split(","))
    assert rows[1][0] == "MUG-1" and rows[1][3:5] == ("39.90", "59.90")


def test_marketing_may_export_but_not_import(client, django_user_model):
    marketer = django_user_model.objects.create_user(username="marketer", is_staff=True)
    marketer.groups.add(Group.objects.get(name="Marketing"))
    client.force_login(marketer)

    assert client.get(reverse("admin:catalog_product_import")).status_code == 403
    assert client.get(reverse("admin:catalog_product_export")).status_code == 200


# --- categories ------------------------------------------------------------------


def test_adding_a_subcategory_places_it_under_its_parent_in_position_order(admin_client):
    tea = CategoryFactory(name="Tea", slug="tea")
    CategoryFactory(name="Leaves", slug="leaves", position=20, parent=tea)

    response = admin_client.post(
        reverse("admin:catalog_category_add"),
        {
            "name": "Teaware",
            "slug": "teaware",
            "position": "10",
            "is_active": "on",
            "treebeard_position": "sorted-child",
            "treebeard_ref_node": str(tea.pk),
        },
    )

    assert response.status_code == 302
    assert [category.slug for category in Category.objects.order_by("path")] == ["tea", "teaware", "leaves"]


# --- display prices follow SKU edits ---------------------------------------------


def _display_price(product: Product) -> int | None:
    return Product.objects.values_list("display_price_fen", flat=True).get(pk=product.pk)


def test_editing_a_sku_price_in_the_product_editor_updates_the_storefront_price(admin_client):
    sku = SkuFactory(price_fen=3990)

    response = admin_client.post(
        reverse("admin:catalog_product_change", args=[sku.product_id]), _product_change_form(sku, price="29.90")
    )

    assert response.status_code == 302
    assert _display_price(sku.product) == 2990


def test_deactivating_the_cheapest_sku_or_deleting_it_moves_the_storefront_price(admin_client):
    product = ProductFactory()
    cheap = SkuFactory(product=product, price_fen=1000)
    dear = SkuFactory(product=product, price_fen=5000)

    response = admin_client.post(
        reverse("admin:catalog_sku_change", args=[cheap.pk]),
        {"product": str(product.pk), "code": cheap.code, "specs": "{}", "price_fen": "10.00", "list_price_fen": ""},
    )
    assert response.status_code == 302
    assert _display_price(product) == 5000

    admin_client.post(reverse("admin:catalog_sku_delete", args=[dear.pk]), {"post": "yes"})
    assert not Sku.objects.filter(pk=dear.pk).exists()
    assert _display_price(product) is None  # nothing left on sale: invisible in the storefront


def test_changing_a_categorys_position_moves_it_among_its_siblings(admin_client):
    tea = CategoryFactory(name="Tea", slug="tea", position=1)
    CategoryFactory(name="Kitchen", slug="kitchen", position=2)

    response = admin_client.post(
        reverse("admin:catalog_category_change", args=[tea.pk]),
        {
            "name": "Tea",
            "slug": "tea",
            "position": "3",
            "is_active": "on",
            "treebeard_position": "sorted-sibling",
            "treebeard_ref_node": "",
        },
    )

    assert response.status_code == 302
    assert [category.slug for category in Category.objects.order_by("path")] == ["kitchen", "tea"]
    assert [node.slug for node in category_tree()] == ["kitchen", "tea"]
