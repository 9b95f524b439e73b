import io
import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import connection
from PIL import Image

from catalog.exceptions import StockAdjustmentRefused
from catalog.models import Product, Sku, StockAdjustment
from catalog.services import (
    product_description_clean,
    product_display_prices_refresh,
    product_image_create,
    product_image_thumbnails_make,
    products_shelf_set,
    sku_create,
    sku_stock_adjust,
)
from tests.factories import ProductFactory, SkuFactory


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _upload(*, size: tuple[int, int], mode: str = "RGB", image_format: str = "JPEG", name: str = "photo.jpg"):
    buffer = io.BytesIO()
    Image.new(mode, size, "teal").save(buffer, format=image_format)
    return ContentFile(buffer.getvalue(), name=name)


# --- description HTML ------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "cleaned"),
    [
        (
            "<p>Hand <strong>made</strong></p><ul><li>350 ml</li></ul>",
            "<p>Hand <strong>made</strong></p><ul><li>350 ml</li></ul>",
        ),
        ("<p>ok</p><script>alert(1)</script>", "<p>ok</p>"),
        ('<p onclick="steal()" style="color:red">景德镇</p>', "<p>景德镇</p>"),
        (
            '<img src="https://cdn.example.com/a.jpg" alt="mug" onerror="x()">',
            '<img src="https://cdn.example.com/a.jpg" alt="mug">',
        ),
        ('<img src="javascript:alert(1)">', "<img>"),
        ('<a href="https://evil.example.com">buy</a>', "buy"),
        ("<iframe src='https://x'></iframe><style>p{}</style><h2>规格</h2>", "<h2>规格</h2>"),
        ("  <p>trailing</p>\n", "<p>trailing</p>"),
    ],
)
def test_description_is_cleaned_to_the_safe_subset(html, cleaned):
    assert product_description_clean(html=html) == cleaned


# --- shelf -----------------------------------------------------------------------


@pytest.mark.django_db
def test_shelf_set_changes_only_products_not_already_there():
    on, off, other = ProductFactory(is_active=True), ProductFactory(is_active=False), ProductFactory()

    assert products_shelf_set(product_ids=[on.pk, off.pk], on_shelf=False) == 1
    assert set(Product.objects.filter(is_active=False).values_list("pk", flat=True)) == {on.pk, off.pk}
    assert products_shelf_set(product_ids=[on.pk], on_shelf=True) == 1
    assert Product.objects.get(pk=other.pk).is_active


# --- stock adjustments -----------------------------------------------------------


@pytest.mark.django_db
def test_a_new_sku_starts_at_zero_and_its_initial_stock_is_an_audited_adjustment(admin_user):
    sku = sku_create(sku=SkuFactory.build(product=ProductFactory(), code="MUG-2", stock=12), by=admin_user)

    assert Sku.objects.get(code="MUG-2").stock == sku.stock == 12
    [adjustment] = StockAdjustment.objects.filter(sku=sku)
    assert (adjustment.delta, adjustment.reason, adjustment.stock_after, adjustment.created_by) == (
        12,
        "Initial stock",
        12,
        admin_user,
    )


@pytest.mark.django_db
def test_a_new_sku_without_stock_has_no_adjustment():
    sku = sku_create(sku=SkuFactory.build(product=ProductFactory(), stock=0), by=None, reason="Initial stock (import)")

    assert Sku.objects.get(pk=sku.pk).stock == 0
    assert not StockAdjustment.objects.exists()


@pytest.mark.django_db
def test_a_new_sku_with_negative_stock_is_refused_and_not_created(admin_user):
    with pytest.raises(StockAdjustmentRefused):
        sku_create(sku=SkuFactory.build(product=ProductFactory(), code="MUG-3", stock=-1), by=admin_user)

    assert not Sku.objects.filter(code="MUG-3").exists()


@pytest.mark.django_db
def test_stock_adjustment_changes_stock_and_records_who_why_and_what_is_left(admin_user):
    sku = SkuFactory(stock=5)

    adjustment = sku_stock_adjust(sku_id=sku.pk, delta=-3, reason="  Broken in storage ", by=admin_user)

    sku.refresh_from_db()
    assert sku.stock == 2
    assert (adjustment.sku, adjustment.delta, adjustment.reason, adjustment.stock_after, adjustment.created_by) == (
        sku,
        -3,
        "Broken in storage",
        2,
        admin_user,
    )


@pytest.mark.django_db
def test_stock_never_goes_negative_and_a_refusal_changes_nothing(admin_user):
    sku = SkuFactory(code="MUG-1", stock=2)

    with pytest.raises(StockAdjustmentRefused) as refused:
        sku_stock_adjust(sku_id=sku.pk, delta=-3, reason="Count", by=admin_user)

    message = "Stock cannot go below zero: MUG-1 has 2, so at most 2 can be removed."
    assert refused.value.fields == {"delta": [message]}
    sku.refresh_from_db()
    assert sku.stock == 2
    assert not StockAdjustment.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("delta", "reason", "field"), [(0, "Count", "delta"), (5, "   ", "reason")])
def test_an_empty_adjustment_is_refused(admin_user, delta, reason, field):
    sku = SkuFactory(stock=2)

    with pytest.raises(StockAdjustmentRefused) as refused:
        sku_stock_adjust(sku_id=sku.pk, delta=delta, reason=reason, by=admin_user)

    assert list(refused.value.fields) == [field]
    assert not StockAdjustment.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_removals_never_overdraw(admin_user):
    # Eight staff remove 2 each from a stock of 10 at once: the row lock lets exactly five succeed.
    sku = SkuFactory(stock=10)
    outcomes = []
    start = threading.Barrier(8)

    def remove_two():
        start.wait()
        try:
            sku_stock_adjust(sku_id=sku.pk, delta=-2, reason="Concurrent", by=None)
            outcomes.append("done")
        except StockAdjustmentRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=remove_two) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    sku.refresh_from_db()
    assert sorted(outcomes) == ["done"] * 5 + ["refused"] * 3
    assert sku.stock == 0
    assert sorted(StockAdjustment.objects.values_list("stock_after", flat=True)) == [0, 2, 4, 6, 8]


# --- thumbnails ------------------------------------------------------------------


@pytest.mark.django_db
def test_an_upload_gets_a_square_list_thumbnail_and_a_detail_one_at_the_photo_aspect(media_root):
    image = product_image_create(product=ProductFactory(), image=_upload(size=(1200, 1600)))

    with Image.open(image.list_thumbnail.path) as list_thumbnail, Image.open(image.detail_thumbnail.path) as detail:
        assert (list_thumbnail.format, list_thumbnail.size) == ("JPEG", (375, 375))
        assert (detail.format, detail.size) == ("JPEG", (750, 1000))
    assert sorted(path.name for path in media_root.rglob("*.jpg")) == [
        "photo-detail.jpg",
        "photo-list.jpg",
        "photo.jpg",
    ]


@pytest.mark.django_db
def test_a_small_or_transparent_upload_is_never_upscaled_and_becomes_a_jpeg(media_root):
    image = product_image_create(
        product=ProductFactory(), image=_upload(size=(300, 200), mode="RGBA", image_format="PNG", name="logo.png")
    )

    with Image.open(image.list_thumbnail.path) as list_thumbnail, Image.open(image.detail_thumbnail.path) as detail:
        assert (list_thumbnail.mode, list_thumbnail.size) == ("RGB", (200, 200))
        assert (detail.mode, detail.size) == ("RGB", (300, 200))


@pytest.mark.django_db
def test_replacing_a_photo_replaces_its_thumbnails_and_leaves_no_old_files(media_root):
    image = product_image_create(product=ProductFactory(), image=_upload(size=(800, 800), name="first.jpg"))

    image.image.save("second.jpg", _upload(size=(800, 400), name="second.jpg"), save=True)
    product_image_thumbnails_make(product_image=image)

    thumbnails = sorted(path.name for path in (media_root / "catalog" / "thumbnails").iterdir())
    assert thumbnails == ["second-detail.jpg", "second-list.jpg"]
    with Image.open(image.detail_thumbnail.path) as detail:
        assert detail.size == (750, 375)


@pytest.mark.django_db
def test_sku_model_refuses_a_list_price_below_the_price():
    sku = Sku(product=ProductFactory(), code="MUG-1", price_fen=3990, list_price_fen=3000)

    with pytest.raises(ValidationError) as refused:
        sku.full_clean()

    assert refused.value.messages == ["The list price cannot be below the price."]


# --- display prices --------------------------------------------------------------


@pytest.mark.django_db
def test_display_price_is_the_cheapest_active_sku_or_empty():
    mug, teapot, bare = ProductFactory(), ProductFactory(), ProductFactory()
    Sku.objects.bulk_create(
        [
            Sku(product=mug, code="MUG-1", price_fen=1000, is_active=False),
            Sku(product=mug, code="MUG-2", price_fen=4500),
            Sku(product=mug, code="MUG-3", price_fen=3990),
            Sku(product=teapot, code="POT-1", price_fen=100, is_active=False),
        ]
    )

    product_display_prices_refresh(product_ids=[mug.pk, teapot.pk, bare.pk])

    assert dict(Product.objects.values_list("pk", "display_price_fen")) == {
        mug.pk: 3990,
        teapot.pk: None,
        bare.pk: None,
    }
