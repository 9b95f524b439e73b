import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db

ORDER_PATHS = {
    "/api/v1/cart": {"get"},
    "/api/v1/cart/items": {"post"},
    "/api/v1/cart/items/{cart_item_id}": {"patch", "delete"},
    "/api/v1/addresses": {"get", "post"},
    "/api/v1/addresses/{address_id}": {"get", "patch", "delete"},
    "/api/v1/orders": {"get", "post"},
    "/api/v1/orders/{order_no}": {"get"},
    "/api/v1/orders/{order_no}/cancel": {"post"},
    "/api/v1/orders/{order_no}/pay": {"post"},
    "/api/v1/orders/{order_no}/check-payment": {"post"},
}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_cart_address_and_order_operation_is_documented(schema):
    documented = {
        path: set(operations) & {"get", "post", "patch", "delete"} for path, operations in schema["paths"].items()
    }

    assert {path: documented.get(path) for path in ORDER_PATHS} == ORDER_PATHS


def test_the_order_carries_the_contract_fields(schema):
    components = schema["components"]["schemas"]
    order = components["OrderDetailOutput"]["properties"]
    line = components["OrderLineOutput"]["properties"]
    entry = components["OrderEventOutput"]["properties"]

    assert {
        "order_no",
        "status",
        "items",
        "total_fen",
        "address",
        "source",
        "created_at",
        "expires_at",
        "paid_at",
    } <= set(order)
    assert "timeline" in order
    assert set(line) == {"sku_id", "title", "specs", "image", "price_fen", "quantity", "subtotal_fen"}
    assert set(entry) == {"from", "to", "at", "by", "reason"}
    assert set(components["StatusEnum"]["enum"]) == {
        "pending_payment",
        "paid",
        "shipped",
        "completed",
        "cancelled",
        "expired",
        "refunding",
        "refunded",
        "partially_refunded",
    }


def test_order_create_documents_the_idempotency_key_and_its_errors(schema):
    create = schema["paths"]["/api/v1/orders"]["post"]

    assert any(
        parameter["name"] == "Idempotency-Key" and parameter["in"] == "header" for parameter in create["parameters"]
    )
    assert {"201", "400", "404", "409", "422"} <= set(create["responses"])
    assert schema["paths"]["/api/v1/orders"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OrderPage"
    }


def test_pay_documents_what_wx_request_payment_takes_with_an_example_and_its_refusals(schema):
    pay = schema["paths"]["/api/v1/orders/{order_no}/pay"]["post"]
    answer = pay["responses"]["200"]["content"]["application/json"]
    output = schema["components"]["schemas"][answer["schema"]["$ref"].rsplit("/", 1)[1]]

    assert set(output["properties"]) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert set(next(iter(answer["examples"].values()))["value"]) == set(output["properties"])
    assert {"200", "404", "409", "503"} <= set(pay["responses"])
    assert "requestBody" not in pay


def test_the_order_detail_documents_check_payment(schema):
    retrieve = schema["paths"]["/api/v1/orders/{order_no}"]["get"]

    [check_payment] = [parameter for parameter in retrieve["parameters"] if parameter["name"] == "check_payment"]
    assert (check_payment["in"], check_payment["schema"]["type"]) == ("query", "boolean")
    assert "orderquery" in check_payment["description"]


def test_the_order_detail_check_payment_flag_is_deprecated_for_the_post(schema):
    retrieve = schema["paths"]["/api/v1/orders/{order_no}"]["get"]

    [check_payment] = [parameter for parameter in retrieve["parameters"] if parameter["name"] == "check_payment"]
    assert check_payment["deprecated"] is True
    assert "Deprecated" in check_payment["description"] and "check-payment" in check_payment["description"]
    assert check_payment["schema"]["default"] is False


def test_check_payment_documents_the_order_detail_and_takes_no_body(schema):
    check = schema["paths"]["/api/v1/orders/{order_no}/check-payment"]["post"]

    assert check["operationId"] == "orders_check_payment"
    assert check["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OrderDetailOutput"
    }
    assert {"200", "401", "404"} <= set(check["responses"])
    assert "orderquery" in check["description"]
    assert "requestBody" not in check
    assert "deprecated" not in check


def test_order_create_keeps_its_body_component_name(schema):
    create = schema["paths"]["/api/v1/orders"]["post"]

    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/OrdersInputRequest"
    }
