"""Operations edit a product's specs, SKU matrix and photos in Chromium, at 1280×800.

Uses the browser fixtures of test_admin_browser.py (Debian's Chromium driven by Playwright).
"""

import io

import pytest
from PIL import Image

from catalog.models import Product, ProductImage, Sku
from tests.e2e import test_admin_browser
from tests.factories import ProductFactory, ProductImageFactory

browser = test_admin_browser.browser
staff_member = test_admin_browser.staff_member
screenshot_dir = test_admin_browser.screenshot_dir
_logged_in_page = test_admin_browser._logged_in_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("staff_groups")]

PRICES = {
    ("雾灰", "1.5m"): ("BED-150-GREY", "399.00", "25"),
    ("雾灰", "1.8m"): ("BED-180-GREY", "459.00", "18"),
    ("靛蓝", "1.5m"): ("BED-150-BLUE", "399.00", "0"),
    ("靛蓝", "1.8m"): ("BED-180-BLUE", "459.50", "9"),
}


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def _add_dimension(page, name: str, values: list[str]) -> None:
    page.get_by_role("button", name="Add a dimension").click()
    card = page.locator(".spec-dimension").last
    card.locator(".spec-dimension-name").fill(name)
    card.locator(".spec-dimension-name").press("Tab")
    for value in values:
        card.locator(".spec-value-new").fill(value)
        card.locator(".spec-value-new").press("Enter")


def test_operations_build_the_spec_matrix_price_it_drag_an_image_and_save(
    browser, live_server, staff_member, screenshot_dir, tmp_path
):
    from playwright.sync_api import expect

    staff_member("Operations", "olivia")
    product = ProductFactory(title="实木床")
    first = ProductImageFactory(product=product, position=0)
    second = ProductImageFactory(product=product, position=1)
    page = _logged_in_page(browser, live_server, "olivia")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/admin/catalog/product/{product.pk}/change/")

    # A product without SKUs starts with one row without specs.
    rows = page.locator("#spec-matrix-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("No specs")

    _add_dimension(page, "颜色", ["雾灰", "靛蓝"])
    expect(rows).to_have_count(2)
    # A value typed twice is refused on the spot.
    colour = page.locator(".spec-dimension").first
    colour.locator(".spec-value-new").fill("雾灰")
    colour.locator(".spec-value-new").press("Enter")
    expect(colour.locator(".spec-value-message")).to_have_text("This dimension already has that value.")
    expect(colour.locator("li.spec-chip")).to_have_count(2)
    colour.locator(".spec-value-new").fill("")

    _add_dimension(page, "床宽", ["1.5m", "1.8m"])
    expect(rows).to_have_count(4)
    for index, (colour_value, width) in enumerate(PRICES):
        row = rows.nth(index)
        expect(row.locator(".spec-matrix-values")).to_have_text(f"{colour_value}{width}")
        code, price, stock = PRICES[(colour_value, width)]
        row.locator("input[name$=-code]").fill(code)
        row.locator("input[name$=-price]").fill(price)
        row.locator("input[name$=-stock]").fill(stock)
    photo = tmp_path / "blue.jpg"
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), "navy").save(buffer, format="JPEG")
    photo.write_bytes(buffer.getvalue())
    rows.nth(3).locator("input[type=file]").set_input_files(photo)

    # The second photo dragged above the first: it becomes the main image.
    handles = page.locator("#images-data tbody.original [x-sort\\:handle]")
    expect(handles).to_have_count(2)
    handles.nth(1).drag_to(handles.nth(0))
    expect(page.locator("#images-data tbody.original").first.locator("input[name$=-id]")).to_have_value(str(second.pk))

    # The description in the articles' editor, with its toolbar.
    editor = page.locator(".ProseMirror[contenteditable=true]")
    editor.click()
    page.keyboard.type("北美白橡木")
    page.keyboard.press("Control+a")
    page.get_by_role("button", name="bold", exact=True).click()

    assert _no_sideways_scroll(page)
    # docs/screens/spec-matrix.png is the Chinese one, from test_staff_day_browser.py.
    page.locator("#spec-matrix").screenshot(path=screenshot_dir / "spec-matrix.png")

    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert _no_sideways_scroll(page)

    product.refresh_from_db()
    assert product.spec_dimensions == [
        {"name": "颜色", "values": ["雾灰", "靛蓝"]},
        {"name": "床宽", "values": ["1.5m", "1.8m"]},
    ]
    skus = {(sku.specs["颜色"], sku.specs["床宽"]): sku for sku in Sku.objects.filter(product=product)}
    assert {key: (sku.code, sku.price_fen, sku.stock) for key, sku in skus.items()} == {
        ("雾灰", "1.5m"): ("BED-150-GREY", 39900, 25),
        ("雾灰", "1.8m"): ("BED-180-GREY", 45900, 18),
        ("靛蓝", "1.5m"): ("BED-150-BLUE", 39900, 0),
        ("靛蓝", "1.8m"): ("BED-180-BLUE", 45950, 9),
    }
    assert skus[("靛蓝", "1.8m")].image_thumbnail and not skus[("雾灰", "1.5m")].image
    assert list(ProductImage.objects.filter(product=product).values_list("pk", flat=True)) == [second.pk, first.pk]
    assert product.description == "<p><strong>北美白橡木</strong></p>"

    # Taking a colour away removes its rows; SKUs never ordered are deleted, the rest keep their ids.
    kept_ids = {skus[("雾灰", "1.5m")].pk, skus[("雾灰", "1.8m")].pk}
    expect(rows).to_have_count(4)
    page.get_by_role("button", name="Remove value 靛蓝").click()
    expect(rows).to_have_count(2)
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    assert set(Sku.objects.filter(product=product).values_list("pk", flat=True)) == kept_ids
    assert Product.objects.get(pk=product.pk).display_price_fen == 39900

    # Renaming a dimension keeps every row's code, price and stock, and so the SKUs themselves.
    width = page.locator(".spec-dimension-name").nth(1)
    width.fill("尺寸")
    width.press("Tab")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator("input[name$=-code]")).to_have_value("BED-150-GREY")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    renamed = {sku.pk: sku.specs for sku in Sku.objects.filter(product=product)}
    assert renamed == {
        skus[("雾灰", "1.5m")].pk: {"颜色": "雾灰", "尺寸": "1.5m"},
        skus[("雾灰", "1.8m")].pk: {"颜色": "雾灰", "尺寸": "1.8m"},
    }
    assert Sku.objects.get(code="BED-150-GREY").stock == 25


def test_a_bad_price_comes_back_marked_on_its_row_with_the_matrix_intact(browser, live_server, staff_member):
    from playwright.sync_api import expect

    staff_member("Operations", "olivia")
    product = ProductFactory(title="实木床")
    page = _logged_in_page(browser, live_server, "olivia")
    page.goto(f"{live_server.url}/admin/catalog/product/{product.pk}/change/")

    _add_dimension(page, "颜色", ["雾灰", "靛蓝"])
    rows = page.locator("#spec-matrix-rows tr")
    rows.nth(0).locator("input[name$=-code]").fill("BED-GREY")
    rows.nth(0).locator("input[name$=-price]").fill("399.00")
    rows.nth(1).locator("input[name$=-code]").fill("BED-BLUE")
    page.get_by_role("button", name="Save and continue editing").click()

    expect(page.locator("#spec-matrix-errors")).to_contain_text("Correct the SKU rows marked below.")
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("Enter a price.")
    expect(rows.nth(0).locator("input[name$=-price]")).to_have_value("399.00")
    expect(page.locator(".spec-dimension li.spec-chip")).to_have_count(2)
    assert not Sku.objects.exists()
