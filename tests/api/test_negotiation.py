"""JsonFirstContentNegotiation (config/api_negotiation.py) answers as DRF's negotiation does, without parsing Accept."""

import pytest
from django.http import Http404
from django.test import RequestFactory
from rest_framework import exceptions
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIClient

from config.api_negotiation import JsonFirstContentNegotiation
from tests.languages import ENGLISH

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "",
    "text/html",
    "application/json; indent=4",
    "application/*",
    "text/html, */*;q=0.1",
    "application/json, text/plain, */*",
    "*/*; indent=2",
    "APPLICATION/JSON",
]
QUERIES = ["", "?format=json", "?format=api", "?format=", "?page=2"]
RENDERER_LISTS = {
    "json only": [JSONRenderer],
    "json first": [JSONRenderer, BrowsableAPIRenderer],
    "json second": [BrowsableAPIRenderer, JSONRenderer],
}


def _request(accept: str | None, query: str = "") -> Request:
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    return Request(RequestFactory().post(f"/api/v1/auth/login{query}", **headers))


def _outcome(negotiation, request: Request, renderer_classes: list, format_suffix: str | None = None):
    try:
        renderer, media_type = negotiation.select_renderer(
            request, [renderer() for renderer in renderer_classes], format_suffix
        )
    except (exceptions.NotAcceptable, Http404) as refused:
        return type(refused)
    return type(renderer), media_type


@pytest.mark.parametrize("renderer_classes", RENDERER_LISTS.values(), ids=RENDERER_LISTS.keys())
@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("accept", ACCEPTS)
def test_every_request_gets_the_renderer_and_media_type_drf_gives_it(accept, query, renderer_classes):
    ours = _outcome(JsonFirstContentNegotiation(), _request(accept, query), renderer_classes)

    assert ours == _outcome(DefaultContentNegotiation(), _request(accept, query), renderer_classes)


@pytest.mark.parametrize("format_suffix", ["json", "api"])
def test_a_format_suffix_is_negotiated_as_drf_does(format_suffix):
    ours = _outcome(JsonFirstContentNegotiation(), _request(None), [JSONRenderer], format_suffix)

    assert ours == _outcome(DefaultContentNegotiation(), _request(None), [JSONRenderer], format_suffix)


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_the_accept_headers_clients_send_are_answered_without_parsing(accept):
    request = _request(accept)

    assert _outcome(JsonFirstContentNegotiation(), request, [JSONRenderer]) == (JSONRenderer, "application/json")
    # DRF keeps the Accept header it parsed on the request; nothing was parsed.
    assert getattr(request, "_parsed_accept_list", None) is None


@pytest.mark.django_db
def test_a_login_asked_for_indented_json_still_gets_it(sandbox):
    code = sandbox.mint_login_code()["code"]
    response = APIClient(**ENGLISH).post(
        "/api/v1/auth/login", {"code": code}, format="json", HTTP_ACCEPT="application/json; indent=4"
    )

    assert response.status_code == 200
    assert response.content.startswith(b'{\n    "token": ')


@pytest.mark.django_db
def test_a_login_asked_for_html_is_refused_in_the_error_body(sandbox):
    response = APIClient(**ENGLISH).post("/api/v1/auth/login", {"code": "any"}, format="json", HTTP_ACCEPT="text/html")

    assert response.status_code == 406
    assert response.json()["code"] == "not_acceptable"
    assert sandbox.received("/sns/jscode2session") == []
