"""The schema documents the errors each operation can really answer (schemathesis holds the server to it)."""

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def operations():
    paths = SchemaGenerator().get_schema(request=None, public=True)["paths"]
    return {
        (method.upper(), path): operation for path, methods in paths.items() for method, operation in methods.items()
    }


def _statuses(operation) -> set[str]:
    return set(operation["responses"])


def test_a_json_body_can_be_refused_as_too_large_or_not_json(operations):
    login = operations[("POST", "/api/v1/auth/login")]

    assert {"400", "406", "413", "415", "429"} <= _statuses(login)
    assert "401" not in _statuses(login)  # login takes no token


def test_a_throttled_operation_documents_retry_after(operations):
    too_many = operations[("POST", "/api/v1/auth/login")]["responses"]["429"]

    assert too_many["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert too_many["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_only_operations_that_take_a_token_document_401(operations):
    assert "401" in _statuses(operations[("GET", "/api/v1/me")])
    assert "401" not in _statuses(operations[("GET", "/api/v1/health")])


def test_an_operation_without_a_body_or_throttle_documents_neither(operations):
    health = _statuses(operations[("GET", "/api/v1/health")])

    assert {"200", "400", "406", "503"} <= health
    assert not health & {"413", "415", "429"}
