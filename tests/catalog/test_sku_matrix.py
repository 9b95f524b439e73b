"""The spec dimensions and the SKU matrix they span: generation, matching, retiring and refusals."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog.exceptions import SkuMatrixRefused
from catalog.models import Sku, StockAdjustment
from catalog.services import SkuMatrixRow, product_sku_matrix_save, sku_matrix_problems
from catalog.spec_matrix import spec_combinations, spec_dimensions_from_specs, spec_dimensions_problems
from orders.services.placement import order_create
from tests.factories import AddressFactory, ProductFactory, SkuFactory

pytestmark = pytest.mark.django_db

BED_DIMENSIONS = [{"name": "颜色", "values": ["雾灰", "靛蓝"]}, {"name": "床宽", "values": ["1.5m", "1.8m"]}]


def _rows(dimensions, **fields_by_code) -> list[SkuMatrixRow]:
    """One active row per combination, coded BED-1..BED-n at 399.00 + 10 yuan a step, unless overridden."""
    rows = []
    for number, specs in enumerate(spec_combinations(dimensions), start=1):
        code = f"BED-{number}"
        values = {"code": code, "price_fen": 39900 + 1000 * number, "stock": number} | fields_by_code.get(code, {})
        rows.append(SkuMatrixRow(specs=specs, **values))
    return rows


def _jpeg(color="red") -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (600, 400), color).save(buffer, format="JPEG")
    return SimpleUploadedFile("sku.jpg", buffer.getvalue(), content_type="image/jpeg")


def test_the_matrix_is_every_combination_first_dimension_slowest():
    assert spec_combinations(BED_DIMENSIONS) == [
        {"颜色": "雾灰", "床宽": "1.5m"},
        {"颜色": "雾灰", "床宽": "1.8m"},
        {"颜色": "靛蓝", "床宽": "1.5m"},
        {"颜色": "靛蓝", "床宽": "1.8m"},
    ]
    assert spec_combinations([]) == [{}]


def test_saving_a_matrix_creates_a_sku_per_combination_with_its_stock_audited(admin_user):
    product = ProductFactory()

    product_sku_matrix_save(product=product, dimensions=BED_DIMENSIONS, rows=_rows(BED_DIMENSIONS), by=admin_user)

    skus = {sku.code: sku for sku in Sku.objects.filter(product=product)}
    assert set(skus) == {"BED-1", "BED-2", "BED-3", "BED-4"}
    assert skus["BED-3"].specs == {"颜色": "靛蓝", "床宽": "1.5m"}
    assert (skus["BED-3"].price_fen, skus["BED-3"].stock) == (42900, 3)
    assert StockAdjustment.objects.get(sku=skus["BED-3"]).created_by == admin_user
    product.refresh_from_db()
    assert product.spec_dimensions == BED_DIMENSIONS
    assert product.display_price_fen == 40900


def test_adding_a_value_keeps_the_existing_skus_and_their_stock():
    product = ProductFactory()
    product_sku_matrix_save(product=product, dimensions=BED_DIMENSIONS, rows=_rows(BED_DIMENSIONS), by=None)
    before = {sku.code: sku.pk for sku in Sku.objects.filter(product=product)}
    Sku.objects.filter(code="BED-1").update(stock=77)  # sold and restocked since

    wider = [BED_DIMENSIONS[0], {"name": "床宽", "values": ["1.5m", "1.8m", "2.0m"]}]
    rows = [
        SkuMatrixRow(specs=specs, code=f"W-{number}", price_fen=50000, stock=5)
        for number, specs in enumerate(spec_combinations(wider))
    ]
    # The existing combinations keep their codes as they were.
    existing_codes = {("雾灰", "1.5m"): "BED-1", ("雾灰", "1.8m"): "BED-2", ("靛蓝", "1.5m"): "BED-3"}
    existing_codes[("靛蓝", "1.8m")] = "BED-4"
    rows = [
        SkuMatrixRow(specs=row.specs, code=existing_codes.get(tuple(row.specs.values()), row.code), price_fen=50000)
        for row in rows
    ]
    product_sku_matrix_save(product=product, dimensions=wider, rows=rows, by=None)

    after = {sku.code: sku for sku in Sku.objects.filter(product=product)}
    assert len(after) == 6
    assert {code: after[code].pk for code in before} == before
    assert after["BED-1"].stock == 77  # an existing SKU's stock is never typed over
    assert after["BED-1"].price_fen == 50000


def test_a_removed_combination_is_deleted_but_deactivated_when_an_order_holds_it(settings):
    product = ProductFactory()
    product_sku_matrix_save(product=product, dimensions=BED_DIMENSIONS, rows=_rows(BED_DIMENSIONS), by=None)
    ordered = Sku.objects.get(code="BED-3")  # 靛蓝 1.5m
    address = AddressFactory()
    order_create(customer=address.customer, address_id=address.pk, items=[{"sku_id": ordered.pk, "quantity": 1}])

    grey_only = [{"name": "颜色", "values": ["雾灰"]}, BED_DIMENSIONS[1]]
    product_sku_matrix_save(product=product, dimensions=grey_only, rows=_rows(grey_only), by=None)

    assert set(Sku.objects.filter(product=product, is_active=True).values_list("code", flat=True)) == {
        "BED-1",
        "BED-2",
    }
    ordered.refresh_from_db()
    assert ordered.is_active is False  # kept for the order's history
    assert not Sku.objects.filter(code="BED-4").exists()  # never sold: gone

    # Putting the colour back brings the ordered SKU back on sale, same row.
    product_sku_matrix_save(product=product, dimensions=BED_DIMENSIONS, rows=_rows(BED_DIMENSIONS), by=None)
    ordered.refresh_from_db()
    assert ordered.is_active is True


def test_a_renamed_value_keeps_the_sku_that_carries_its_code():
    product = ProductFactory()
    product_sku_matrix_save(product=product, dimensions=BED_DIMENSIONS, rows=_rows(BED_DIMENSIONS), by=None)
    grey = Sku.objects.get(code="BED-1")

    renamed = [{"name": "颜色", "values": ["烟灰", "靛蓝"]}, BED_DIMENSIONS[1]]
    product_sku_matrix_save(product=product, dimensions=renamed, rows=_rows(renamed), by=None)

    grey.refresh_from_db()
    assert grey.specs == {"颜色": "烟灰", "床宽": "1.5m"}
    assert Sku.objects.filter(product=product).count() == 4


def test_two_rows_may_swap_their_codes():
    product = ProductFactory()
    product_sku_matrix_save(product=product, dimensions=BED_DIMENSIONS, rows=_rows(BED_DIMENSIONS), by=None)
    first_id = Sku.objects.get(code="BED-1").pk

    swapped = _rows(BED_DIMENSIONS, **{"BED-1": {"code": "BED-2"}, "BED-2": {"code": "BED-1"}})
    product_sku_matrix_save(product=product, dimensions=BED_DIMENSIONS, rows=swapped, by=None)

    assert Sku.objects.get(pk=first_id).code == "BED-2"


def test_a_combination_not_sold_and_left_empty_makes_no_sku():
    product = ProductFactory()
    rows = _rows(BED_DIMENSIONS, **{"BED-4": {"code": "", "price_fen": None, "is_active": False}})

    product_sku_matrix_save(product=product, dimensions=BED_DIMENSIONS, rows=rows, by=None)

    assert Sku.objects.filter(product=product).count() == 3


def test_a_sku_photo_gets_a_square_list_thumbnail(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    product = ProductFactory()
    rows = _rows(BED_DIMENSIONS, **{"BED-2": {"image": _jpeg()}})

    product_sku_matrix_save(product=product, dimensions=BED_DIMENSIONS, rows=rows, by=None)

    sku = Sku.objects.get(code="BED-2")
    with Image.open(sku.image_thumbnail.path) as thumbnail:
        assert thumbnail.size == (375, 375)
    assert sku.image.name.startswith("catalog/skus/")


@pytest.mark.parametrize(
    ("dimensions", "expected"),
    [
        ([{"name": "颜色", "values": ["雾灰", "雾灰"]}], "The value “雾灰” appears twice in “颜色”."),
        ([{"name": "颜色", "values": []}], "The dimension “颜色” has no values."),
        ([{"name": " ", "values": ["雾灰"]}], "Every spec dimension needs a name."),
        (
            [{"name": "颜色", "values": ["雾灰"]}, {"name": "颜色", "values": ["大"]}],
            "The dimension “颜色” appears twice.",
        ),
        ([{"name": "颜色", "values": [""]}], "The dimension “颜色” has an empty value."),
        ({"颜色": "雾灰"}, "The spec dimensions could not be read; reload the page and try again."),
    ],
)
def test_bad_dimensions_are_refused_with_a_sentence(dimensions, expected):
    assert expected in spec_dimensions_problems(dimensions)
    product = ProductFactory()
    with pytest.raises(SkuMatrixRefused):
        product_sku_matrix_save(product=product, dimensions=dimensions, rows=[], by=None)
    assert not Sku.objects.exists()


def test_row_problems_name_the_row_and_field():
    other = SkuFactory(code="TAKEN")
    rows = _rows(
        BED_DIMENSIONS,
        **{
            "BED-1": {"price_fen": None},
            "BED-2": {"code": "BED-3"},
            "BED-4": {"code": "TAKEN", "list_price_fen": 100},
        },
    )

    problems = sku_matrix_problems(product_id=None, dimensions=BED_DIMENSIONS, rows=rows)

    assert (0, "price", "Enter a price.") in problems
    assert (2, "code", "Two rows have the code “BED-3”.") in problems
    assert (3, "list_price", "The list price cannot be below the price.") in problems
    assert any(row == 3 and field == "code" and other.product.title in message for row, field, message in problems)


def test_rows_that_do_not_match_the_dimensions_are_refused():
    rows = _rows(BED_DIMENSIONS)[:3]

    assert sku_matrix_problems(product_id=None, dimensions=BED_DIMENSIONS, rows=rows) == [
        (None, None, "The SKU table does not match the spec dimensions; reload the page and try again.")
    ]


def test_dimensions_are_read_back_from_older_skus_specs():
    specs = [{"床宽": "1.5m", "颜色": "雾灰"}, {"床宽": "1.8m", "颜色": "雾灰"}, {"床宽": "1.8m", "颜色": "靛蓝"}]

    assert spec_dimensions_from_specs(specs) == [
        {"name": "床宽", "values": ["1.5m", "1.8m"]},
        {"name": "颜色", "values": ["雾灰", "靛蓝"]},
    ]
