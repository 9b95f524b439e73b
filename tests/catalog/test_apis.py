import base64
import datetime
import io
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.cache import cache, caches
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from catalog.models import Product
from catalog.services import product_detail_cache_invalidate, sku_image_replace
from tests.caching import caches_clear
from tests.factories import CategoryFactory, ProductFactory, ProductImageFactory, SkuFactory
from tests.languages import ENGLISH

pytestmark = pytest.mark.django_db

PRODUCTS_URL = "/api/v1/catalog/products"
CATEGORIES_URL = "/api/v1/catalog/categories"
# The sold-out SKUs counted (for the list cache, at most once a second per process), then the page
# of products with prices, stock and main image in one query, whatever the page size.
PRODUCT_LIST_QUERIES = 2
# With a category filter: the category too.
PRODUCT_LIST_IN_CATEGORY_QUERIES = 3
# The product with its category, its active SKUs, its images.
PRODUCT_DETAIL_QUERIES = 3


@pytest.fixture
def api() -> APIClient:
    return APIClient(**ENGLISH)


@pytest.fixture
def media_root(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def _product(*, title="Product", price_fen=3990, stock=5, created_days_ago=0, **product_fields) -> Product:
    product = ProductFactory(title=title, **product_fields)
    SkuFactory(product=product, price_fen=price_fen, stock=stock)
    Product.objects.filter(pk=product.pk).update(created_at=timezone.now() - datetime.timedelta(days=created_days_ago))
    return product


def _titles(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [item["title"] for item in response.json()["results"]]


def _walk_pages(api: APIClient, url: str, params: dict) -> list[list[str]]:
    pages = []
    response = api.get(url, params)
    while True:
        pages.append(_titles(response))
        if not response.json()["next"]:
            return pages
        response = api.get(response.json()["next"])


# --- categories -------------------------------------------------------------------


def test_categories_come_as_a_tree_ordered_by_position_then_name(api):
    kitchen = CategoryFactory(name="Kitchen", slug="kitchen", position=20)
    tea = CategoryFactory(name="Tea", slug="tea", position=10)
    CategoryFactory(name="Teaware", slug="teaware", position=5, parent=tea)
    CategoryFactory(name="Leaves", slug="leaves", position=5, parent=tea)
    CategoryFactory(name="Pots", slug="pots", parent=kitchen)

    response = api.get(CATEGORIES_URL)

    assert response.status_code == 200
    assert [(root["slug"], [child["slug"] for child in root["children"]]) for root in response.json()] == [
        ("tea", ["leaves", "teaware"]),
        ("kitchen", ["pots"]),
    ]
    assert response.json()[0]["children"][0] == {
        "id": response.json()[0]["children"][0]["id"],
        "name": "Leaves",
        "slug": "leaves",
        "children": [],
    }


def test_an_inactive_category_hides_its_whole_subtree(api):
    tea = CategoryFactory(slug="tea", is_active=False)
    CategoryFactory(slug="leaves", parent=tea)
    CategoryFactory(slug="kitchen")

    assert [root["slug"] for root in api.get(CATEGORIES_URL).json()] == ["kitchen"]


def test_categories_need_no_login_and_ignore_a_bad_token(api):
    CategoryFactory()

    response = api.get(CATEGORIES_URL, HTTP_AUTHORIZATION="Bearer not-a-token")

    assert response.status_code == 200


# --- caching ----------------------------------------------------------------------


@pytest.mark.parametrize("url", [CATEGORIES_URL, PRODUCTS_URL])
def test_reads_carry_etag_and_public_cache_control_and_answer_304_when_unchanged(api, url):
    _product(title="Mug", category=CategoryFactory())

    first = api.get(url)
    again = api.get(url, HTTP_IF_NONE_MATCH=first["ETag"])

    assert first.status_code == 200
    assert set(first["Cache-Control"].split(", ")) == {"public", "max-age=15"}
    assert first["ETag"]
    assert again.status_code == 304
    assert again.content == b""
    caches_clear()  # and when the answer is built afresh
    assert api.get(url, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_a_repeated_read_is_answered_from_the_shared_cache_until_it_expires(api, django_assert_num_queries):
    product = _product(title="Mug")
    first = api.get(f"{PRODUCTS_URL}/{product.pk}")
    Product.objects.filter(pk=product.pk).update(title="Big mug")

    with django_assert_num_queries(0):
        cached = api.get(f"{PRODUCTS_URL}/{product.pk}")

    assert cached.json()["title"] == "Mug"
    assert cached["ETag"] == first["ETag"]
    assert (cached["Cache-Control"], cached["Vary"]) == (first["Cache-Control"], "Accept")


def test_a_list_read_again_is_answered_from_the_process_own_copy(api, django_assert_num_queries):
    _product(title="Mug")
    first = api.get(PRODUCTS_URL)
    cache.clear()  # the shared entry gone: only this process's copy can answer

    with django_assert_num_queries(0):
        again = api.get(PRODUCTS_URL)

    assert again.content == first.content
    assert again["ETag"] == first["ETag"]


def test_a_process_copy_of_a_list_expires_with_the_shared_entry_not_later(
    api, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("catalog.storefront_caching.STOREFRONT_MAX_AGE_SECONDS", 1)
    monkeypatch.setattr("catalog.storefront_caching.SOLD_OUT_COUNT_SHARED_SECONDS", 0)  # counted at t0, not before
    product = _product(title="Mug")
    api.get(PRODUCTS_URL)  # rendered at t0: served as it is until t0 + 1 s
    time.sleep(0.6)
    caches["storefront_local"].clear()  # a process that first reads it at t0 + 0.6 s ...
    assert api.get(PRODUCTS_URL).json()["results"][0]["title"] == "Mug"
    with django_capture_on_commit_callbacks(execute=True):
        Product.objects.filter(pk=product.pk).update(title="Big mug")
        product_detail_cache_invalidate(product_ids=[product.pk])  # the shared entry is retired at once

    time.sleep(0.5)  # ... must drop its copy at t0 + 1 s, not at t0 + 1.6 s

    assert api.get(PRODUCTS_URL).json()["results"][0]["title"] == "Big mug"


def test_clients_asking_for_plain_json_share_one_cached_answer(api, django_assert_num_queries):
    product = _product(title="Mug")
    url = f"{PRODUCTS_URL}/{product.pk}"
    first = api.get(url, HTTP_ACCEPT="*/*")

    with django_assert_num_queries(0):
        answers = [api.get(url), api.get(url, HTTP_ACCEPT="application/json")]
    indented = api.get(url, HTTP_ACCEPT="application/json; indent=4")  # a different rendering, kept apart

    assert [answer.content for answer in answers] == [first.content, first.content]
    assert indented.json() == first.json()
    assert indented.content != first.content


def test_a_refused_content_type_is_not_cached_for_json_readers(api):
    _product(title="Mug")

    refused = api.get(PRODUCTS_URL, HTTP_ACCEPT="text/html")
    json_answer = api.get(PRODUCTS_URL, HTTP_ACCEPT="application/json")

    assert refused.status_code == 406  # the API speaks JSON only
    assert refused.json()["code"] == "not_acceptable"
    assert json_answer["Content-Type"] == "application/json"
    assert json_answer.json()["results"][0]["title"] == "Mug"


def test_a_change_gives_a_new_etag_and_a_full_answer_once_the_cached_one_expires(api):
    product = _product(title="Mug")
    first = api.get(f"{PRODUCTS_URL}/{product.pk}")

    Product.objects.filter(pk=product.pk).update(title="Big mug")
    caches_clear()  # as the cached answer expires after max-age
    again = api.get(f"{PRODUCTS_URL}/{product.pk}", HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 200
    assert again.json()["title"] == "Big mug"
    assert again["ETag"] != first["ETag"]


def test_errors_are_not_marked_cacheable(api):
    response = api.get(PRODUCTS_URL, {"price_min": "-1"})

    assert response.status_code == 400
    assert "public" not in response.get("Cache-Control", "")


# --- product list: visibility ----------------------------------------------------


def test_off_shelf_products_and_products_without_an_active_sku_are_invisible(api):
    _product(title="Shown")
    _product(title="Off shelf", is_active=False)
    SkuFactory(product__title="Only inactive SKUs", is_active=False)
    ProductFactory(title="No SKUs")

    assert _titles(api.get(PRODUCTS_URL)) == ["Shown"]


def test_price_and_stock_come_from_active_skus_only(api):
    product = ProductFactory(title="Mug")
    SkuFactory(product=product, price_fen=1000, stock=9, is_active=False)
    SkuFactory(product=product, price_fen=3990, list_price_fen=5990, stock=0)
    SkuFactory(product=product, price_fen=4500, stock=0)

    item = api.get(PRODUCTS_URL).json()["results"][0]

    assert (item["price_fen"], item["list_price_fen"], item["in_stock"]) == (3990, 5990, False)


def test_list_item_shape_with_an_absolute_thumbnail(api, media_root):
    product = _product(title="Mug", subtitle="Moon white")
    ProductImageFactory(product=product, position=1)
    main = ProductImageFactory(product=product, position=0)

    item = api.get(PRODUCTS_URL).json()["results"][0]

    assert item == {
        "id": product.pk,
        "title": "Mug",
        "subtitle": "Moon white",
        "category_id": product.category_id,
        "price_fen": 3990,
        "list_price_fen": None,
        "in_stock": True,
        "sales_count": 0,
        "thumbnail": f"http://testserver/media/{main.list_thumbnail.name}",
    }


def test_an_image_from_before_thumbnails_shows_the_original(api, media_root):
    product = _product(title="Mug")
    image = ProductImageFactory(product=product, thumbnails=False)

    assert api.get(PRODUCTS_URL).json()["results"][0]["thumbnail"] == f"http://testserver/media/{image.image.name}"


# --- product list: filters -------------------------------------------------------


def test_category_filter_includes_subcategories(api):
    tea = CategoryFactory()
    leaves = CategoryFactory(parent=tea)
    puer = CategoryFactory(parent=leaves)
    kitchen = CategoryFactory()
    _product(title="Tea set", category=tea, created_days_ago=3)
    _product(title="Green tea", category=leaves, created_days_ago=2)
    _product(title="Pu'er", category=puer, created_days_ago=1)
    _product(title="Mug", category=kitchen)

    assert _titles(api.get(PRODUCTS_URL, {"category": tea.pk})) == ["Pu'er", "Green tea", "Tea set"]
    assert _titles(api.get(PRODUCTS_URL, {"category": leaves.pk})) == ["Pu'er", "Green tea"]
    assert _titles(api.get(PRODUCTS_URL, {"category": kitchen.pk})) == ["Mug"]


def test_keyword_matches_part_of_a_chinese_title_or_subtitle(api):
    _product(title="景德镇手作陶瓷马克杯", created_days_ago=2)
    _product(title="汝窑功夫茶具套装", subtitle="配马克杯一只", created_days_ago=1)
    _product(title="云南勐海古树普洱茶饼")

    assert _titles(api.get(PRODUCTS_URL, {"q": "马克杯"})) == ["汝窑功夫茶具套装", "景德镇手作陶瓷马克杯"]
    assert _titles(api.get(PRODUCTS_URL, {"q": "普洱"})) == ["云南勐海古树普洱茶饼"]
    assert _titles(api.get(PRODUCTS_URL, {"q": "茶"})) == ["云南勐海古树普洱茶饼", "汝窑功夫茶具套装"]
    assert _titles(api.get(PRODUCTS_URL, {"q": "咖啡"})) == []


def test_keyword_ignores_latin_case_and_surrounding_spaces(api):
    _product(title="Celadon MUG")

    assert _titles(api.get(PRODUCTS_URL, {"q": "  mug "})) == ["Celadon MUG"]
    assert _titles(api.get(PRODUCTS_URL, {"q": ""})) == ["Celadon MUG"]


def test_price_range_filters_on_the_cheapest_active_sku(api):
    _product(title="Cheap", price_fen=990)
    _product(title="Middle", price_fen=3990)
    _product(title="Dear", price_fen=12800)

    assert set(_titles(api.get(PRODUCTS_URL, {"price_min": 3990}))) == {"Middle", "Dear"}
    assert set(_titles(api.get(PRODUCTS_URL, {"price_max": 3990}))) == {"Cheap", "Middle"}
    assert _titles(api.get(PRODUCTS_URL, {"price_min": 1000, "price_max": 12799})) == ["Middle"]


def test_in_stock_filter(api):
    _product(title="Plenty", stock=5)
    _product(title="Sold out", stock=0)

    assert _titles(api.get(PRODUCTS_URL, {"in_stock": "true"})) == ["Plenty"]
    assert _titles(api.get(PRODUCTS_URL, {"in_stock": "false"})) == ["Sold out"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"price_min": "-1"}, "price_min", "Ensure this value is greater than or equal to 0."),
        ({"price_max": "cheap"}, "price_max", "A valid integer is required."),
        ({"price_min": "500", "price_max": "100"}, "price_max", "Must not be below price_min."),
        ({"in_stock": "maybe"}, "in_stock", "Must be a valid boolean."),
        ({"ordering": "cheapest"}, "ordering", '"cheapest" is not a valid choice.'),
        ({"category": "999999"}, "category", "This item does not exist or is no longer available."),
        ({"category": "tea"}, "category", "This value is of the wrong type."),
        ({"q": "x" * 51}, "q", "Ensure this field has no more than 50 characters."),
        ({"page_size": "0"}, "page_size", "Ensure this value is greater than or equal to 1."),
        ({"page_size": "101"}, "page_size", "Ensure this value is less than or equal to 100."),
        ({"cursor": "not-a-cursor"}, "cursor", "Invalid cursor: use the next or previous link of a page as it is."),
    ],
)
def test_bad_filter_values_are_a_400_naming_the_field(api, params, field, message):
    response = api.get(PRODUCTS_URL, params)

    assert response.status_code == 400
    assert response.json() == {"code": "invalid", "message": "Some fields are invalid.", "fields": {field: [message]}}


@pytest.mark.parametrize(("ordering", "position"), [("newest", "yesterday"), ("price", "cheap"), ("sales", "")])
def test_a_forged_cursor_is_a_400(api, ordering, position):
    _product(title="Mug")
    forged = base64.b64encode(urlencode({"o": "0", "r": "0", "p": position}).encode()).decode()

    response = api.get(PRODUCTS_URL, {"ordering": ordering, "cursor": forged})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["cursor"]


def test_an_inactive_category_cannot_be_filtered_by(api):
    category = CategoryFactory(is_active=False)

    response = api.get(PRODUCTS_URL, {"category": category.pk})

    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["category"]


# --- product list: ordering and pagination ---------------------------------------


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("newest", ["B", "C", "A"]),
        ("price", ["C", "A", "B"]),
        ("-price", ["B", "A", "C"]),
        ("sales", ["A", "B", "C"]),
        ("-sales", ["C", "B", "A"]),
    ],
)
def test_orderings(api, ordering, expected):
    _product(title="A", price_fen=2000, sales_count=1, created_days_ago=3)
    _product(title="B", price_fen=3000, sales_count=5, created_days_ago=1)
    _product(title="C", price_fen=1000, sales_count=9, created_days_ago=2)

    assert _titles(api.get(PRODUCTS_URL, {"ordering": ordering})) == expected


def test_newest_is_the_default_ordering(api):
    _product(title="Old", created_days_ago=5)
    _product(title="New")

    assert _titles(api.get(PRODUCTS_URL)) == ["New", "Old"]


@pytest.mark.parametrize("ordering", ["newest", "price", "-price", "sales", "-sales"])
def test_cursor_pages_walk_every_product_once_even_with_ties(api, ordering):
    # Equal prices, sales and creation times force the cursor to break ties by id.
    for number in range(7):
        _product(title=f"P{number}", price_fen=1000 * (number % 2), sales_count=number % 3)
    Product.objects.update(created_at=timezone.now())

    pages = _walk_pages(api, PRODUCTS_URL, {"ordering": ordering, "page_size": 3})

    assert [len(page) for page in pages] == [3, 3, 1]
    walked = [title for page in pages for title in page]
    assert sorted(walked) == [f"P{number}" for number in range(7)]
    assert walked == _titles(api.get(PRODUCTS_URL, {"ordering": ordering, "page_size": 7}))


def test_previous_link_leads_back_to_the_first_page(api):
    for number in range(5):
        _product(title=f"P{number}", created_days_ago=number)

    first = api.get(PRODUCTS_URL, {"page_size": 2})
    second = api.get(first.json()["next"])
    back = api.get(second.json()["previous"])

    assert first.json()["previous"] is None
    assert _titles(second) == ["P2", "P3"]
    assert _titles(back) == ["P0", "P1"]


def test_filters_travel_with_the_cursor(api):
    for number in range(4):
        _product(title=f"茶 {number}", created_days_ago=number)
        _product(title=f"Mug {number}", created_days_ago=number)

    pages = _walk_pages(api, PRODUCTS_URL, {"q": "茶", "page_size": 3})

    assert pages == [["茶 0", "茶 1", "茶 2"], ["茶 3"]]


@pytest.mark.parametrize("page_size", [10, 100])
def test_list_queries_do_not_grow_with_the_page(api, media_root, django_assert_num_queries, monkeypatch, page_size):
    monkeypatch.setattr("catalog.storefront_caching.SOLD_OUT_COUNT_SHARED_SECONDS", 0)  # each miss counts anew
    category = CategoryFactory()
    for number in range(page_size):
        product = ProductFactory(title=f"P{number}", category=category)
        SkuFactory(product=product, price_fen=1000 + number)
        SkuFactory(product=product, price_fen=2000 + number, is_active=False)
        ProductImageFactory(product=product)

    with django_assert_num_queries(PRODUCT_LIST_QUERIES):
        everything = api.get(PRODUCTS_URL, {"page_size": page_size, "ordering": "price", "in_stock": "true"})
    with django_assert_num_queries(PRODUCT_LIST_IN_CATEGORY_QUERIES):
        in_category = api.get(PRODUCTS_URL, {"page_size": page_size, "category": category.pk, "q": "P"})

    assert len(everything.json()["results"]) == len(in_category.json()["results"]) == page_size
    assert all(item["thumbnail"] for item in everything.json()["results"])


# --- product detail --------------------------------------------------------------


def test_detail_shows_images_with_absolute_thumbnails_and_active_skus(api, media_root):
    product = ProductFactory(title="Mug", subtitle="Moon white", description="<p>Hand made.</p>", sales_count=7)
    cheap = SkuFactory(product=product, specs={"颜色": "月白"}, price_fen=3990, list_price_fen=5990, stock=3)
    sold_out = SkuFactory(product=product, specs={"颜色": "青瓷"}, price_fen=4500, stock=0)
    SkuFactory(product=product, specs={"颜色": "黑"}, price_fen=100, is_active=False)
    second = ProductImageFactory(product=product, position=1)
    main = ProductImageFactory(product=product, position=0)

    response = api.get(f"{PRODUCTS_URL}/{product.pk}")

    assert response.status_code == 200
    assert response.json() == {
        "id": product.pk,
        "title": "Mug",
        "subtitle": "Moon white",
        "description": "<p>Hand made.</p>",
        "category": {"id": product.category_id, "name": product.category.name},
        "sales_count": 7,
        "images": [
            {
                "url": f"http://testserver/media/{image.image.name}",
                "list_thumbnail": f"http://testserver/media/{image.list_thumbnail.name}",
                "detail_thumbnail": f"http://testserver/media/{image.detail_thumbnail.name}",
            }
            for image in [main, second]
        ],
        "skus": [
            {
                "id": cheap.pk,
                "specs": {"颜色": "月白"},
                "price_fen": 3990,
                "list_price_fen": 5990,
                "stock": 3,
                "available": True,
                "image": None,
            },
            {
                "id": sold_out.pk,
                "specs": {"颜色": "青瓷"},
                "price_fen": 4500,
                "list_price_fen": None,
                "stock": 0,
                "available": False,
                "image": None,
            },
        ],
    }


def test_detail_gives_a_skus_own_photo_and_description_images_with_absolute_urls(api, media_root):
    product = ProductFactory(
        description='<p>床</p><img src="/media/catalog/descriptions/a.jpg" alt=""><img src="https://cdn.example/b.jpg">'
    )
    sku = SkuFactory(product=product)
    buffer = io.BytesIO()
    Image.new("RGB", (500, 500), "navy").save(buffer, format="JPEG")
    sku_image_replace(sku=sku, image=SimpleUploadedFile("navy.jpg", buffer.getvalue()))

    detail = api.get(f"{PRODUCTS_URL}/{product.pk}").json()

    assert detail["skus"][0]["image"] == f"http://testserver/media/{sku.image_thumbnail.name}"
    assert detail["description"] == (
        '<p>床</p><img src="http://testserver/media/catalog/descriptions/a.jpg" alt="">'
        '<img src="https://cdn.example/b.jpg">'
    )


def test_detail_answers_in_a_fixed_number_of_queries(api, media_root, django_assert_num_queries):
    product = ProductFactory()
    for _ in range(5):
        SkuFactory(product=product)
        ProductImageFactory(product=product)

    with django_assert_num_queries(PRODUCT_DETAIL_QUERIES):
        response = api.get(f"{PRODUCTS_URL}/{product.pk}")

    assert (len(response.json()["skus"]), len(response.json()["images"])) == (5, 5)


@pytest.mark.parametrize(
    "make_invisible",
    [
        lambda: SkuFactory(product__is_active=False).product,
        lambda: SkuFactory(is_active=False).product,
        lambda: ProductFactory(),
    ],
    ids=["off shelf", "only inactive SKUs", "no SKUs"],
)
def test_invisible_products_are_a_404_in_the_error_shape(api, make_invisible):
    product = make_invisible()

    response = api.get(f"{PRODUCTS_URL}/{product.pk}")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "No such product on shelf.", "fields": {}}


def test_an_unknown_product_is_a_404(api):
    assert api.get(f"{PRODUCTS_URL}/987654").status_code == 404


def test_reading_a_product_does_no_image_work(api, media_root):
    product = _product(title="Mug")
    ProductImageFactory(product=product)
    files_before = {path: path.stat().st_mtime_ns for path in media_root.rglob("*") if path.is_file()}

    for _ in range(3):
        assert api.get(f"{PRODUCTS_URL}/{product.pk}").status_code == 200
        assert api.get(PRODUCTS_URL).status_code == 200

    # The original and its two thumbnails, untouched: nothing is resized per request.
    assert len(files_before) == 3
    assert {path: path.stat().st_mtime_ns for path in media_root.rglob("*") if path.is_file()} == files_before


def test_the_schema_documents_the_catalog(api):
    schema = api.get("/api/schema/", {"format": "json"}).json()

    products = schema["paths"]["/api/v1/catalog/products"]["get"]
    assert {parameter["name"] for parameter in products["parameters"]} >= {
        "category",
        "q",
        "price_min",
        "price_max",
        "in_stock",
        "ordering",
        "cursor",
        "page_size",
    }
    assert set(products["responses"]) >= {"200", "304", "400"}
    assert set(schema["paths"]["/api/v1/catalog/products/{product_id}"]["get"]["responses"]) >= {"200", "304", "404"}
    sku = schema["components"]["schemas"]["SkuOutput"]["properties"]
    assert set(sku) == {"id", "specs", "price_fen", "list_price_fen", "stock", "available", "image"}
    node = schema["components"]["schemas"]["CategoryNode"]["properties"]
    assert node["children"]["items"] == {"$ref": "#/components/schemas/CategoryNode"}
