"""Every response carries the security headers: pages, API answers, and the answers our middleware makes on its own
(an unknown path's 404 on the API and off it, a body too large, a nonsense Content-Length)."""

import pytest

pytestmark = pytest.mark.django_db

# What SecurityMiddleware and XFrameOptionsMiddleware give with our settings.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@pytest.mark.parametrize(
    "method, path, options, status",
    [
        ("get", "/api/v1/no-such-thing", {}, 404),
        ("get", "/api/v1/catalog/products/", {}, 404),  # a trailing slash: the API's own 404 body
        ("get", "/no-such-page", {}, 404),
        ("get", "/wechat/oa/wx00000000000000ff/", {}, 404),
        ("get", "/api/v1/me", {}, 401),
        ("post", "/api/v1/auth/login", {"data": b"{" + b" " * 100_000 + b"}", "content_type": "application/json"}, 413),
        ("post", "/api/v1/auth/login", {"data": b"{}", "content_type": "application/json", "CONTENT_LENGTH": "x"}, 400),
        ("get", "/api/v1/health", {}, None),
        ("get", "/admin/login/", {}, 200),
        ("post", "/wechat/pay/notify/", {"data": b"<xml></xml>", "content_type": "text/xml"}, 200),
    ],
    ids=[
        "api-404",
        "api-trailing-slash-404",
        "page-404",
        "callback-404",
        "api-401",
        "api-413",
        "bad-content-length-400",
        "health",
        "admin-login",
        "pay-notify",
    ],
)
def test_every_response_carries_the_security_headers(client, method, path, options, status):
    response = getattr(client, method)(path, **options)

    if status is not None:
        assert response.status_code == status
    assert {name: response.headers.get(name) for name in SECURITY_HEADERS} == SECURITY_HEADERS
