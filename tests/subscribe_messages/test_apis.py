"""POST /api/v1/subscriptions: the Mini Program reports wx.requestSubscribeMessage's result."""

import pytest

from subscribe_messages.models import OrderMilestone, SubscriptionAcceptance
from tests.factories import CustomerFactory
from tests.orders.conftest import authenticated_client

pytestmark = pytest.mark.django_db
URL = "/api/v1/subscriptions"


def test_each_accept_allows_one_message_and_a_reject_none(api, customer, make_template):
    make_template(OrderMilestone.SHIPPED)
    make_template(OrderMilestone.REFUNDED)

    first = api.post(URL, {"results": {"tmpl-shipped": "accept", "tmpl-refunded": "reject"}}, format="json")
    second = api.post(URL, {"results": {"tmpl-shipped": "accept"}}, format="json")

    assert first.status_code == 201, first.json()
    assert {row["template_id"]: row["messages_allowed"] for row in first.json()["acceptances"]} == {
        "tmpl-shipped": 1,
        "tmpl-refunded": 0,
    }
    assert second.json()["acceptances"] == [
        {"template_id": "tmpl-shipped", "event": "shipped", "messages_allowed": 2, "last_result": "accept"}
    ]
    assert SubscriptionAcceptance.objects.get(customer=customer, template__event="shipped").accepted_total == 2


def test_an_unknown_template_is_refused_by_name_and_nothing_is_recorded(api, make_template):
    make_template(OrderMilestone.SHIPPED)

    response = api.post(URL, {"results": {"tmpl-shipped": "accept", "tmpl-nope": "accept"}}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "unknown_subscribe_template"
    assert list(body["fields"]["results"]) == ["tmpl-nope"]
    assert SubscriptionAcceptance.objects.count() == 0


def test_a_disabled_template_is_unknown(api, make_template):
    make_template(OrderMilestone.SHIPPED, enabled=False)

    response = api.post(URL, {"results": {"tmpl-shipped": "accept"}}, format="json")

    assert response.status_code == 400 and response.json()["code"] == "unknown_subscribe_template"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"results": {}},
        {"results": {"tmpl-shipped": "yes"}},
        {"results": ["tmpl-shipped"]},
        {"results": {"a": "accept", "b": "accept", "c": "accept", "d": "accept"}},
        {"results": {"t" * 65: "accept"}},
        {"results": {"tmpl\u0000shipped": "accept"}},
        {"results": {"tmpl-shipped": None}},
    ],
    ids=["missing", "empty", "bad-result", "a-list", "more-than-3", "id-too-long", "nul-in-id", "null-result"],
)
def test_bad_bodies_are_400_with_field_messages(api, make_template, body):
    make_template(OrderMilestone.SHIPPED)

    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "results" in response.json()["fields"]


def test_a_customer_must_be_logged_in(client):
    assert client.post(URL, {"results": {"x": "accept"}}, content_type="application/json").status_code in (401, 403)


def test_acceptances_are_each_customers_own(api, customer, make_template):
    make_template(OrderMilestone.SHIPPED)
    other = CustomerFactory()

    authenticated_client(other).post(URL, {"results": {"tmpl-shipped": "accept"}}, format="json")

    assert not SubscriptionAcceptance.objects.filter(customer=customer).exists()
    assert SubscriptionAcceptance.objects.get(customer=other).available == 1


def test_the_operation_is_in_the_openapi_schema(client):
    schema = client.get("/api/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/subscriptions"]["post"]
    assert operation["operationId"] == "subscriptions_record"
    assert {"201", "400"} <= set(operation["responses"])
