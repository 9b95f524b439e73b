"""An outage of the database or the shared cache is answered as an outage, never as our bug.

gunicorn runs with the service really unreachable (its URL names a loopback port nothing listens
on), so every request meets the connection error a stopped server gives. The fault suite
(tests/faults/) stops and restarts real servers under load.
"""

import pytest
import requests

from tests.api.servers import gunicorn_servers
from tests.private_services import closed_port

pytestmark = [pytest.mark.services, pytest.mark.django_db]

SHOPPER_REQUESTS = [
    ("GET", "/api/v1/catalog/categories", None),
    ("GET", "/api/v1/catalog/products", None),
    ("GET", "/api/v1/catalog/products?q=mug", None),
    ("GET", "/api/v1/catalog/products/1", None),
    ("GET", "/api/v1/me", None),
    ("GET", "/api/v1/cart", None),
    ("POST", "/api/v1/orders", {"items": [{"sku_id": 1, "quantity": 1}], "address_id": 1}),
    ("GET", "/api/v1/orders/202612050800000000000001", None),
    ("POST", "/api/v1/auth/login", {"code": "0a1b2c"}),
]


OUTAGE_MESSAGE = {
    "en": "A service we depend on is unavailable. Please try again shortly.",
    "zh-hans": "依赖的服务暂不可用，请稍后再试。",
}


def _assert_answered_as_an_outage(response: requests.Response, what: str, language: str = "en") -> None:
    assert response.status_code == 503, f"{what}: {response.status_code} {response.text[:300]}"
    assert response.headers["Content-Type"].startswith("application/json"), what
    assert response.json() == {
        "code": "service_unavailable",
        "message": OUTAGE_MESSAGE[language],
        "fields": {},
    }, what
    assert 1 <= int(response.headers["Retry-After"]) <= 60, what


def _ask(base_url: str, shopper_requests: list) -> None:
    session = requests.Session()
    # A bearer token makes authentication read the database before the view does.
    session.headers["Authorization"] = "Bearer a-token-that-needs-the-database-to-check"
    session.headers["Accept-Language"] = "en"
    for method, path, body in shopper_requests:
        response = session.request(method, base_url + path, json=body, headers={"Idempotency-Key": "k-1"}, timeout=15)
        _assert_answered_as_an_outage(response, f"{method} {path}")
    anonymous = requests.get(base_url + "/api/v1/catalog/products", timeout=15)
    # Without Accept-Language a shopper reads the outage in Chinese, the API's default.
    _assert_answered_as_an_outage(anonymous, "GET /api/v1/catalog/products without a token", language="zh-hans")


def test_the_database_down_answers_503_with_retry_after():
    environment = {"DATABASE_URL": f"postgres://postgres@127.0.0.1:{closed_port()}/wechatcms"}
    with gunicorn_servers(1, environment=environment, ready_statuses=(503,), use_test_database=False) as (url,):
        health = requests.get(url + "/api/v1/health", timeout=15).json()
        assert health["checks"]["database"] == "failing: OperationalError"

        _ask(url, SHOPPER_REQUESTS)


def test_the_shared_cache_down_answers_503_with_retry_after():
    environment = {"CACHE_URL": f"redis://127.0.0.1:{closed_port()}/0"}
    with gunicorn_servers(1, environment=environment, ready_statuses=(503,)) as (url,):
        health = requests.get(url + "/api/v1/health", timeout=15).json()
        assert health["checks"]["cache"].startswith("failing: ")

        # What reads the cache: the storefront's stored answers and the login throttle.
        _ask(url, [request for request in SHOPPER_REQUESTS if "/catalog/" in request[1] or "/auth/" in request[1]])
