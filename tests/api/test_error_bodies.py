"""Whatever a client sends under /api/, the answer is JSON in the one error shape.

Walks the cases found by probing the API from outside, against the project's URL conf
(plus views that fail, tests/api/urls.py), with DEBUG off as in production.
"""

import pytest
from django.test import Client
from rest_framework.throttling import ScopedRateThrottle

from config.api_parsers import json_nesting_exceeds
from tests.api.urls import LEAKY_DETAIL
from tests.languages import ENGLISH

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]

LOGIN = "/api/v1/auth/login"
HEALTH = "/api/v1/health"
JSON = "application/json"


@pytest.fixture
def client(settings):
    settings.DEBUG = False
    return Client(raise_request_exception=False, **ENGLISH)


def _form_fields(count: int) -> str:
    return "&".join(f"field{number}=x" for number in range(count))


def post(body, content_type=JSON, path=LOGIN):
    return "post", path, {"data": body, "content_type": content_type}


def multipart(fields: dict):
    return "post", LOGIN, {"data": fields}  # the test client's default encoding


def get(path, **headers):
    return "get", path, headers


CASES = {
    # name: (request, status, code)
    "nested brackets": (post("[" * 1000 + "]" * 1000), 400, "parse_error"),
    "nesting one past the limit": (post("[" * 33 + "]" * 33), 400, "parse_error"),
    "malformed JSON": (post("{not json"), 400, "parse_error"),
    "not UTF-8": (post(b'{"code": "\xff\xfe"}'), 400, "parse_error"),
    "NaN": (post('{"code": NaN}'), 400, "parse_error"),
    "2,000 query fields": (get(f"{HEALTH}?{_form_fields(2000)}"), 400, "too_many_fields"),
    "a host we do not serve": (get(HEALTH, HTTP_HOST="attacker.example"), 400, "bad_request"),
    "no token": (get("/api/v1/me"), 401, "not_authenticated"),
    "Django's PermissionDenied": (get("/api/v1/test-forbidding-view"), 403, "permission_denied"),
    "unknown path": (get("/api/v1/nowhere"), 404, "not_found"),
    "unknown version": (post("{}", path="/api/v9/auth/login"), 404, "not_found"),
    "trailing slash": (get(f"{HEALTH}/"), 404, "not_found"),
    "trailing slash on a POST": (post("{}", path=f"{LOGIN}/"), 404, "not_found"),
    "schema without its slash": (get("/api/schema"), 404, "not_found"),
    "unknown format": (get(f"{HEALTH}?format=api"), 404, "not_found"),
    "wrong method": (("delete", HEALTH, {}), 405, "method_not_allowed"),
    "browsable API asked for": (get(HEALTH, HTTP_ACCEPT="text/html"), 406, "not_acceptable"),
    "schema asked for as HTML": (get("/api/schema/", HTTP_ACCEPT="text/html"), 406, "not_acceptable"),
    "a Content-Length that is not a number": (
        ("post", LOGIN, {"data": "{}", "content_type": JSON, "CONTENT_LENGTH": "abc"}),
        400,
        "bad_request",
    ),
    "5 MB of JSON": (post('{"code": "' + "x" * 5_000_000 + '"}'), 413, "request_too_large"),
    "a body just over 64 KB": (post(" " * (64 * 1024 + 1)), 413, "request_too_large"),
    "5 MB multipart upload": (multipart({"code": "x", "file": "x" * 5_000_000}), 413, "request_too_large"),
    "small multipart upload": (multipart({"code": "x", "file": "x" * 1000}), 415, "unsupported_media_type"),
    "2,000 form fields": (post(_form_fields(2000), "application/x-www-form-urlencoded"), 415, "unsupported_media_type"),
    "plain text": (post("code=x", "text/plain"), 415, "unsupported_media_type"),
    "a bug in an API view": (get("/api/v1/test-failing-api"), 500, "server_error"),
    "a bug in a plain view": (get("/api/v1/test-failing-view"), 500, "server_error"),
}


@pytest.mark.parametrize("request_args, status, code", CASES.values(), ids=CASES.keys())
def test_every_api_error_is_json_in_the_error_shape(client, request_args, status, code):
    method, path, request_kwargs = request_args

    response = getattr(client, method)(path, **request_kwargs)

    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == JSON
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert body["message"] and isinstance(body["message"], str)
    assert body["fields"] == {}
    assert "Location" not in response  # never a redirect, e.g. to add a slash


def test_the_messages_say_what_to_fix(client):
    nested = client.post(LOGIN, "[" * 1000 + "]" * 1000, content_type=JSON).json()["message"]
    too_large = client.post(LOGIN, " " * 70_000, content_type=JSON).json()["message"]
    slashed = client.get(f"{HEALTH}/").json()["message"]

    assert nested == "JSON nested deeper than 32 levels is refused."
    assert too_large == "The request body is larger than the API accepts (65536 bytes)."
    assert slashed == "API paths have no trailing slash: /api/v1/health"


def test_nesting_up_to_the_limit_reaches_the_serializer(client):
    body = '{"code": ' + "[" * 31 + "]" * 31 + "}"

    response = client.post(LOGIN, body, content_type=JSON)

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["code"]


@pytest.mark.parametrize(
    "text, deeper_than_two",
    [
        ('[["]]]]]]"]]', False),
        ('[["[[[[[["]]', False),
        ('[["\\"[[[["]]', False),  # an escaped quote does not end the string
        ('[["\\\\"[[]]]]', True),  # an escaped backslash does not escape the quote after it
        ('{"a": {"b": {"c": 1}}}', True),
        ('{"a": [1, 2], "b": {"c": 3}}', False),  # siblings do not add up
        ("[][][][][]", False),
    ],
)
def test_nesting_is_measured_outside_strings(text, deeper_than_two):
    assert json_nesting_exceeds(text, 2) is deeper_than_two


@pytest.mark.parametrize("debug", [False, True])
def test_a_server_error_leaks_nothing(client, settings, debug):
    settings.DEBUG = debug  # DEBUG's technical page would show the traceback and local variables

    for path in ["/api/v1/test-failing-api", "/api/v1/test-failing-view"]:
        response = client.get(path)

        assert response.status_code == 500
        assert response.json() == {
            "code": "server_error",
            "message": "Something went wrong on our side. Please try again later.",
            "fields": {},
        }
        assert LEAKY_DETAIL.encode() not in response.content


def test_a_throttled_request_says_when_to_retry(client, sandbox, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "1/min"})
    client.post(LOGIN, {"code": "unknown"}, content_type=JSON)

    response = client.post(LOGIN, {"code": "unknown"}, content_type=JSON)

    assert response.status_code == 429
    assert response["Content-Type"] == JSON
    assert response.json()["code"] == "throttled"
    assert response.json()["fields"] == {}
    assert 1 <= int(response["Retry-After"]) <= 60


def test_a_wrong_method_keeps_the_allow_header(client):
    response = client.post(HEALTH, {}, content_type=JSON)

    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD, OPTIONS"


def test_the_docs_and_schema_are_still_served(client):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert schema["Content-Type"].startswith("application/vnd.oai.openapi")
    assert docs.status_code == 200
    assert docs["Content-Type"].startswith("text/html")


def test_outside_the_api_errors_keep_their_html_pages(client, admin_client, settings):
    settings.DEBUG = False

    admin_page = admin_client.get("/admin/no-such-page/")
    elsewhere = client.get("/no-such-page")

    assert admin_page.status_code == 404
    assert admin_page["Content-Type"].startswith("text/html")
    assert elsewhere.status_code == 404
    assert elsewhere["Content-Type"].startswith("text/html")
    assert client.get("/admin").status_code == 301  # the admin still gets its slash added


def test_in_development_too_an_unknown_path_answers_json(client, settings):
    settings.DEBUG = True  # instead of DEBUG's page listing every URL pattern

    response = client.get("/api/v1/nowhere")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_past_djangos_own_body_limit_it_is_still_413(client, settings):
    # Should API_MAX_BODY_BYTES be raised above DATA_UPLOAD_MAX_MEMORY_SIZE, Django's refusal answers.
    settings.API_MAX_BODY_BYTES = 10 * 1024 * 1024
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024

    response = client.post(LOGIN, {"code": "x" * 2000}, content_type=JSON)

    assert response.status_code == 413
    assert response.json() == {"code": "request_too_large", "message": "The request body is too large.", "fields": {}}
