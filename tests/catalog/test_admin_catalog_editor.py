"""The product page as a shop admin uses it: spec matrix, rich description, image order, list thumbnails."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from catalog.models import Product, ProductImage, Sku
from catalog.services import sku_image_replace
from orders.services.placement import order_create
from tests.catalog.test_admin import _inline_management_form, _matrix_form
from tests.factories import (
    AddressFactory,
    ArticleFactory,
    CategoryFactory,
    ProductFactory,
    ProductImageFactory,
    SkuFactory,
)

pytestmark = pytest.mark.django_db

BED_DIMENSIONS = [{"name": "颜色", "values": ["雾灰", "靛蓝"]}, {"name": "床宽", "values": ["1.5m", "1.8m"]}]
BED_ROWS = [
    {"specs": {"颜色": "雾灰", "床宽": "1.5m"}, "code": "BED-150-GREY", "price": "399.00", "stock": "25"},
    {"specs": {"颜色": "雾灰", "床宽": "1.8m"}, "code": "BED-180-GREY", "price": "459.00", "stock": "18"},
    {"specs": {"颜色": "靛蓝", "床宽": "1.5m"}, "code": "BED-150-BLUE", "price": "399.00", "stock": "0"},
    {"specs": {"颜色": "靛蓝", "床宽": "1.8m"}, "code": "BED-180-BLUE", "price": "459.50", "stock": "9"},
]


def _jpeg(width=900, height=600, color="teal", name="photo.jpg") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def _bed_form(category_id: int, *, dimensions=BED_DIMENSIONS, rows=BED_ROWS, **fields) -> dict:
    return {
        "category": str(category_id),
        "title": "实木床",
        "description": "",
        "is_active": "on",
        **_matrix_form(dimensions=dimensions, rows=rows),
        **_inline_management_form("images", total=0),
        **fields,
    }


def _errors_shown(response) -> str:
    return response.content.decode()


# --- the spec matrix ----------------------------------------------------------------


def test_adding_a_product_with_two_dimensions_saves_the_whole_matrix_in_fen(admin_client, admin_user):
    response = admin_client.post(reverse("admin:catalog_product_add"), _bed_form(CategoryFactory().pk))

    assert response.status_code == 302
    product = Product.objects.get()
    assert product.spec_dimensions == BED_DIMENSIONS
    skus = {sku.code: sku for sku in product.skus.all()}
    assert len(skus) == 4
    assert skus["BED-180-BLUE"].specs == {"颜色": "靛蓝", "床宽": "1.8m"}
    assert (skus["BED-180-BLUE"].price_fen, skus["BED-180-BLUE"].stock) == (45950, 9)
    assert product.display_price_fen == 39900


@pytest.mark.parametrize(
    ("dimensions", "message"),
    [
        ([{"name": "颜色", "values": ["雾灰", "雾灰"]}], "The value “雾灰” appears twice in “颜色”."),
        ([{"name": "颜色", "values": []}], "The dimension “颜色” has no values."),
        ([{"name": "", "values": ["雾灰"]}], "Every spec dimension needs a name."),
    ],
)
def test_bad_dimensions_are_a_form_error_and_save_nothing(admin_client, dimensions, message):
    rows = [{"specs": {}, "code": "X-1", "price": "1.00"}]

    response = admin_client.post(
        reverse("admin:catalog_product_add"), _bed_form(CategoryFactory().pk, dimensions=dimensions, rows=rows)
    )

    assert response.status_code == 200
    assert message in _errors_shown(response)
    assert not Product.objects.exists() and not Sku.objects.exists()


@pytest.mark.parametrize(
    ("row_change", "message"),
    [
        ({"price": ""}, "Enter a price."),
        ({"price": "39.999"}, "Ensure that there are no more than 2 decimal places."),
        ({"price": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"stock": "-3"}, "Ensure this value is greater than or equal to 0."),
        ({"stock": "many"}, "Enter a whole number."),
        ({"code": ""}, "Enter a SKU code."),
        ({"code": "BED-180-GREY"}, "Two rows have the code “BED-180-GREY”."),
    ],
)
def test_a_bad_row_is_marked_on_its_row_and_nothing_is_saved(admin_client, row_change, message):
    rows = [BED_ROWS[0], BED_ROWS[1], BED_ROWS[2] | row_change, BED_ROWS[3]]

    response = admin_client.post(reverse("admin:catalog_product_add"), _bed_form(CategoryFactory().pk, rows=rows))

    assert response.status_code == 200
    matrix = response.context["adminform"].form.sku_matrix
    assert message in str(matrix.forms[2].errors)
    assert not any(matrix.forms[index].errors for index in (0, 1, 3))
    assert "Correct the SKU rows marked below." in _errors_shown(response)
    assert not Product.objects.exists() and not Sku.objects.exists()


def test_a_code_of_another_product_is_refused_by_name(admin_client):
    SkuFactory(code="BED-150-GREY", product=ProductFactory(title="旧床"))

    response = admin_client.post(reverse("admin:catalog_product_add"), _bed_form(CategoryFactory().pk))

    assert response.status_code == 200
    assert "The code “BED-150-GREY” is already used by “旧床”" in _errors_shown(response)
    assert Sku.objects.count() == 1


def test_the_change_page_shows_existing_skus_as_matrix_rows_and_their_dimensions(admin_client):
    # SKUs from before the matrix editor: the dimensions are read from their specs.
    product = ProductFactory()
    SkuFactory(product=product, code="BED-150-GREY", specs={"颜色": "雾灰", "床宽": "1.5m"}, price_fen=39900)
    SkuFactory(product=product, code="BED-180-BLUE", specs={"颜色": "靛蓝", "床宽": "1.8m"}, price_fen=45900)

    response = admin_client.get(reverse("admin:catalog_product_change", args=[product.pk]))

    assert response.status_code == 200
    form = response.context["adminform"].form
    # In the order the stored specs list them (PostgreSQL's jsonb orders an object's keys its own way).
    by_name = sorted(form.initial["spec_dimensions"], key=lambda dimension: dimension["name"])
    assert by_name == sorted(BED_DIMENSIONS, key=lambda dimension: dimension["name"])
    rows = form.sku_matrix.forms
    on_sale = {tuple(sorted(json.loads(row.initial["specs"]).items())): row.initial["is_active"] for row in rows}
    # The combinations never sold start off sale, so saving the page unchanged makes no SKU of them.
    assert on_sale == {
        (("床宽", "1.5m"), ("颜色", "雾灰")): True,
        (("床宽", "1.8m"), ("颜色", "雾灰")): False,
        (("床宽", "1.5m"), ("颜色", "靛蓝")): False,
        (("床宽", "1.8m"), ("颜色", "靛蓝")): True,
    }
    page = response.content.decode()
    assert 'value="399.00"' in page and 'value="459.00"' in page
    assert "Adjust stock" in page
    assert 'name="skus-0-specs"' not in page  # no JSON to type


def test_saving_the_legacy_page_as_rendered_keeps_the_skus(admin_client):
    product = ProductFactory()
    grey = SkuFactory(product=product, code="BED-150-GREY", specs={"颜色": "雾灰", "床宽": "1.5m"}, stock=4)
    rows = [
        {"specs": {"颜色": "雾灰", "床宽": "1.5m"}, "code": "BED-150-GREY", "price": "399.00"},
        {"specs": {"颜色": "雾灰", "床宽": "1.8m"}, "code": "", "price": "", "is_active": ""},
    ]
    dimensions = [{"name": "颜色", "values": ["雾灰"]}, {"name": "床宽", "values": ["1.5m", "1.8m"]}]
    form = _bed_form(product.category_id, dimensions=dimensions, rows=rows, title=product.title)

    response = admin_client.post(reverse("admin:catalog_product_change", args=[product.pk]), form)

    assert response.status_code == 302
    assert list(product.skus.values_list("pk", "stock", "price_fen")) == [(grey.pk, 4, 39900)]


def test_a_sku_photo_uploaded_in_its_row_gets_a_thumbnail(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    form = _bed_form(CategoryFactory().pk) | {"matrix-3-image": _jpeg(name="blue.jpg")}

    response = admin_client.post(reverse("admin:catalog_product_add"), form)

    assert response.status_code == 302
    sku = Sku.objects.get(code="BED-180-BLUE")
    with Image.open(sku.image_thumbnail.path) as thumbnail:
        assert thumbnail.size == (375, 375)
    assert not Sku.objects.get(code="BED-150-GREY").image


def test_the_sku_page_shows_specs_read_only_and_adds_only_a_first_sku(admin_client):
    sku = SkuFactory(specs={"颜色": "雾灰"})

    page = admin_client.get(reverse("admin:catalog_sku_change", args=[sku.pk])).content.decode()
    assert "颜色: 雾灰" in page
    assert 'name="specs"' not in page

    response = admin_client.post(
        reverse("admin:catalog_sku_add"),
        {"product": str(sku.product_id), "code": "NEW-1", "price_fen": "1.00", "stock": "1", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "add more in the spec table on the product&#x27;s page" in response.content.decode()
    assert not Sku.objects.filter(code="NEW-1").exists()


# --- the description's rich editor ---------------------------------------------------


def test_the_description_is_edited_in_the_articles_rich_editor_and_cleaned(admin_client):
    page = admin_client.get(reverse("admin:catalog_product_add")).content.decode()
    assert "prose-editor" in page
    assert "articles/editor_image_upload.js" in page
    assert reverse("admin:catalog_product_upload_description_image") in page

    form = _bed_form(
        CategoryFactory().pk,
        description='<h2 style="color:red">规格</h2><p><a href="https://x.example">床</a></p><script>x()</script>',
    )
    assert admin_client.post(reverse("admin:catalog_product_add"), form).status_code == 302
    assert Product.objects.get().description == "<h2>规格</h2><p>床</p>"


def test_an_image_put_into_the_description_is_stored_at_the_detail_width(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    url = reverse("admin:catalog_product_upload_description_image")

    response = admin_client.post(url, {"image": _jpeg(width=2000, height=1000)})

    assert response.status_code == 201
    stored = tmp_path / response.json()["url"].removeprefix(settings.MEDIA_URL)
    with Image.open(stored) as image:
        assert (image.format, image.size) == ("JPEG", (750, 375))

    refused = admin_client.post(url, {"image": SimpleUploadedFile("notes.jpg", b"not a picture")})
    assert refused.status_code == 400
    assert refused.json()["error"] == "This file is not an image we can read (JPG, PNG, GIF or WebP)."


def test_marketing_cannot_upload_description_images(client, django_user_model, staff_groups):
    from django.contrib.auth.models import Group

    marketer = django_user_model.objects.create_user("mei", password="x", is_staff=True)
    marketer.groups.add(Group.objects.get(name="Marketing"))
    client.force_login(marketer)

    response = client.post(reverse("admin:catalog_product_upload_description_image"), {"image": _jpeg()})

    assert response.status_code == 403


# --- image order -------------------------------------------------------------------


def test_images_are_dragged_into_order_and_a_new_one_goes_last(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    sku = SkuFactory()
    first = ProductImageFactory(product=sku.product, position=0)
    second = ProductImageFactory(product=sku.product, position=1)
    change_page = admin_client.get(reverse("admin:catalog_product_change", args=[sku.product_id])).content.decode()
    assert 'data-ordering-field="position"' in change_page  # the theme's sortable rows

    form = {
        "category": str(sku.product.category_id),
        "title": sku.product.title,
        "description": "",
        "is_active": "on",
        **_matrix_form(dimensions=[], rows=[{"specs": {}, "code": sku.code, "price": "39.90"}]),
        **_inline_management_form("images", total=3, initial=2),
        # Dragged: the second image first.
        "images-0-id": str(first.pk),
        "images-0-product": str(sku.product_id),
        "images-0-position": "1",
        "images-1-id": str(second.pk),
        "images-1-product": str(sku.product_id),
        "images-1-position": "0",
        "images-2-image": _jpeg(name="new.jpg"),
        "images-2-position": "0",
    }

    response = admin_client.post(reverse("admin:catalog_product_change", args=[sku.product_id]), form)

    assert response.status_code == 302
    order = list(ProductImage.objects.filter(product=sku.product).values_list("pk", flat=True))
    assert order[:2] == [second.pk, first.pk] and len(order) == 3
    detail = admin_client.get(f"/api/v1/catalog/products/{sku.product_id}").json()
    assert [image["url"].rsplit("/", 1)[-1] for image in detail["images"]][2].startswith("new")


# --- list thumbnails ----------------------------------------------------------------


def test_product_and_sku_lists_show_small_lazy_thumbnails_from_our_media(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    product = ProductFactory()
    main = ProductImageFactory(product=product, position=0)
    ProductImageFactory(product=product, position=1)
    plain_sku = SkuFactory(product=product)
    photographed = SkuFactory(product=product)
    sku_image_replace(sku=photographed, image=_jpeg(name="sku.jpg"))

    products_page = admin_client.get(reverse("admin:catalog_product_changelist")).content.decode()
    assert f'src="{main.list_thumbnail.url}" width="40" height="40" alt="" loading="lazy"' in products_page

    skus_page = admin_client.get(reverse("admin:catalog_sku_changelist")).content.decode()
    photographed.refresh_from_db()
    assert f'src="{photographed.image_thumbnail.url}" width="40" height="40"' in skus_page
    assert skus_page.count(f'src="{main.list_thumbnail.url}"') == 1  # the plain SKU shows its product's photo
    assert plain_sku.code in skus_page


def test_the_sku_changelist_stays_one_query_for_its_rows(admin_client, django_assert_max_num_queries):
    for number in range(20):
        product = ProductFactory()
        ProductImageFactory(product=product)
        SkuFactory(product=product, code=f"S-{number}")

    # Session, user, two counts, the page of rows.
    with django_assert_max_num_queries(5):
        response = admin_client.get(reverse("admin:catalog_sku_changelist"))

    assert response.status_code == 200


def test_article_list_shows_its_cover_thumbnail(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    article = ArticleFactory(cover=_jpeg(name="cover.jpg"))

    page = admin_client.get(reverse("admin:articles_article_changelist")).content.decode()

    assert f'src="{article.cover.url}" width="40" height="40" alt="" loading="lazy"' in page


def test_the_order_list_shows_its_first_lines_photo_in_one_query_for_the_page(
    admin_client, settings, tmp_path, django_assert_max_num_queries
):
    settings.MEDIA_ROOT = tmp_path
    address = AddressFactory()
    photographed = SkuFactory(stock=50)
    sku_image_replace(sku=photographed, image=_jpeg(name="sku.jpg"))
    plain = SkuFactory(stock=50)
    main = ProductImageFactory(product=plain.product)
    for sku in [photographed, plain] * 5:
        order_create(customer=address.customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])
    url = reverse("admin:orders_order_changelist")
    admin_client.get(url)  # the session and the user, once

    with django_assert_max_num_queries(8):
        page = admin_client.get(url).content.decode()

    photographed.refresh_from_db()
    assert page.count(f'src="{photographed.image_thumbnail.url}" width="40" height="40"') == 5
    assert page.count(f'src="{main.list_thumbnail.url}" width="40" height="40"') == 5


def test_a_sku_imported_outside_the_matrix_shows_in_it_and_survives_a_save(admin_client):
    product = ProductFactory(spec_dimensions=[{"name": "颜色", "values": ["雾灰"]}])
    grey = SkuFactory(product=product, code="GREY", specs={"颜色": "雾灰"}, price_fen=100)
    imported = SkuFactory(product=product, code="RED", specs={"颜色": "红"}, price_fen=200)

    form = admin_client.get(reverse("admin:catalog_product_change", args=[product.pk])).context["adminform"].form

    assert form.initial["spec_dimensions"] == [{"name": "颜色", "values": ["雾灰", "红"]}]
    rows = [{"specs": json.loads(row.initial["specs"]), "code": row.initial["code"]} for row in form.sku_matrix.forms]
    assert rows == [{"specs": {"颜色": "雾灰"}, "code": "GREY"}, {"specs": {"颜色": "红"}, "code": "RED"}]
    posted = _bed_form(
        product.category_id,
        title=product.title,
        dimensions=form.initial["spec_dimensions"],
        rows=[row | {"price": "1.00"} for row in rows],
    )
    assert admin_client.post(reverse("admin:catalog_product_change", args=[product.pk]), posted).status_code == 302
    assert set(product.skus.values_list("pk", flat=True)) == {grey.pk, imported.pk}


def test_marketing_sees_the_matrix_disabled(client, django_user_model, staff_groups):
    from django.contrib.auth.models import Group

    marketer = django_user_model.objects.create_user("mei", password="x", is_staff=True)
    marketer.groups.add(Group.objects.get(name="Marketing"))
    client.force_login(marketer)
    sku = SkuFactory(specs={"颜色": "雾灰"})

    response = client.get(reverse("admin:catalog_product_change", args=[sku.product_id]))

    assert response.status_code == 200
    assert '<fieldset class="module spec-matrix" id="spec-matrix" disabled' in response.content.decode()


def test_an_oversized_description_image_is_refused_with_the_limit(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    huge = SimpleUploadedFile("huge.jpg", b"\xff" * (20 * 1024 * 1024 + 1), content_type="image/jpeg")

    response = admin_client.post(reverse("admin:catalog_product_upload_description_image"), {"image": huge})

    assert response.status_code == 400
    assert response.json()["error"] == "This image is larger than 20 MB; export a smaller one."
    assert not any(tmp_path.rglob("*.jpg"))


def test_a_rows_remove_image_box_takes_the_skus_photo_away(admin_client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    sku = SkuFactory(specs={})
    sku_image_replace(sku=sku, image=_jpeg(name="old.jpg"))
    page = admin_client.get(reverse("admin:catalog_product_change", args=[sku.product_id])).content.decode()
    assert 'name="matrix-0-image_clear"' in page

    form = _bed_form(
        sku.product.category_id,
        title=sku.product.title,
        dimensions=[],
        rows=[{"specs": {}, "code": sku.code, "price": "39.90", "image_clear": "on"}],
    )
    assert admin_client.post(reverse("admin:catalog_product_change", args=[sku.product_id]), form).status_code == 302

    sku.refresh_from_db()
    assert not sku.image and not sku.image_thumbnail
    assert not any(path.is_file() for path in tmp_path.rglob("*"))
