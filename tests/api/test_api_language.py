"""The API's error messages are sentences a shopper can be shown: Chinese unless Accept-Language asks for English.

`code` stays the same English identifier in every language; DRF's wording about its internals never shows.
"""

import pytest
from rest_framework.test import APIClient

from tests.factories import ProductFactory

# The Chinese default must hold with nothing else making the thread English.
pytestmark = [pytest.mark.django_db, pytest.mark.chinese_staff]

PRODUCTS = "/api/v1/catalog/products"


@pytest.fixture
def shopper() -> APIClient:
    return APIClient()


def test_a_domain_error_is_chinese_by_default(shopper):
    product = ProductFactory(is_active=False)

    response = shopper.get(f"{PRODUCTS}/{product.pk}")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "该商品不存在或已下架。", "fields": {}}
    assert response["Content-Language"] == "zh-hans"
    assert "Accept-Language" in response["Vary"]


@pytest.mark.parametrize("accept_language", ["en", "en-US,en;q=0.9", "fr-FR,en;q=0.5"])
def test_accept_language_english_is_honoured(shopper, accept_language):
    product = ProductFactory(is_active=False)

    response = shopper.get(f"{PRODUCTS}/{product.pk}", HTTP_ACCEPT_LANGUAGE=accept_language)

    assert response.json() == {"code": "not_found", "message": "No such product on shelf.", "fields": {}}
    assert response["Content-Language"] == "en"


@pytest.mark.parametrize("accept_language", ["zh-CN,zh;q=0.9,en;q=0.8", "zh", "zh-Hans", "fr", ""])
def test_chinese_variants_and_languages_we_lack_answer_chinese(shopper, accept_language):
    response = shopper.get("/api/v1/nowhere", HTTP_ACCEPT_LANGUAGE=accept_language)

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "该路径下没有接口。", "fields": {}}


def test_a_validation_error_names_the_field_in_chinese_without_drf_internals(shopper):
    response = shopper.get(PRODUCTS, {"category": "999999", "price_max": "cheap"})

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], body["message"]) == ("invalid", "部分内容填写有误。")
    assert body["fields"]["category"] == ["该项不存在或已失效。"]
    assert body["fields"]["price_max"] == ["请填写合法的整数值。"]  # DRF's own Chinese catalog
    assert "pk" not in str(body) and "999999" not in str(body)


def test_a_wrong_type_is_said_plainly(shopper):
    response = shopper.get(PRODUCTS, {"category": "tea"}, HTTP_ACCEPT_LANGUAGE="en")

    assert response.json()["fields"] == {"category": ["This value is of the wrong type."]}


def test_a_refusal_outside_any_view_follows_accept_language_too(shopper):
    chinese = shopper.get("/api/v1/health/")
    english = shopper.get("/api/v1/health/", HTTP_ACCEPT_LANGUAGE="en")

    assert chinese.status_code == english.status_code == 404
    assert chinese.json()["message"] == "接口路径末尾没有斜杠：/api/v1/health"
    assert english.json()["message"] == "API paths have no trailing slash: /api/v1/health"
    assert chinese.json()["code"] == english.json()["code"] == "not_found"


def test_not_signed_in_is_chinese(shopper):
    response = shopper.get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response.json()["message"] == "请先登录。"
