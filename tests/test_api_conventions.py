import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from tests.languages import ENGLISH

pytestmark = pytest.mark.django_db


def test_the_schema_builds_and_validates_without_warnings(tmp_path):
    schema_file = tmp_path / "schema.yaml"

    # --fail-on-warn turns every drf-spectacular warning into an error.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(schema_file))

    schema = schema_file.read_text()
    assert "/api/v1/auth/login:" in schema
    assert "customerToken" in schema


def test_schema_and_docs_are_served():
    client = APIClient(**ENGLISH)

    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
    assert b"cdn." not in docs.content  # served from our own static files


def test_health_reports_each_dependency():
    response = APIClient(**ENGLISH).get("/api/v1/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok", "beat": "ok"}


def test_health_fails_when_the_cache_is_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    }

    response = APIClient(**ENGLISH).get("/api/v1/health")

    assert response.status_code == 503
    assert response.json()["status"] == "failing"
    assert response.json()["checks"]["cache"].startswith("failing")
    assert response.json()["checks"]["database"] == "ok"


def test_a_login_while_the_shared_cache_is_down_is_a_503_not_our_bug(settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5},
        }
    }

    response = APIClient(**ENGLISH).post("/api/v1/auth/login", {"code": "any-code"}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"
    assert response.json()["fields"] == {}
    assert "the shared cache is unreachable" in caplog.text


def test_unknown_api_paths_and_wrong_methods_use_the_error_body():
    client = APIClient(**ENGLISH)

    response = client.get("/api/v1/auth/login")

    assert response.status_code == 405
    assert response.json() == {"code": "method_not_allowed", "message": 'Method "GET" not allowed.', "fields": {}}


def test_malformed_json_gets_a_clear_400():
    response = APIClient(**ENGLISH).post("/api/v1/auth/login", data="{not json", content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
