"""The Idempotency-Key rules of order create, in the order service (the API's answers are in test_order_apis)."""

import pytest

from config.errors import ApplicationError
from orders.models import Order
from orders.services.idempotency import idempotency_key_validate, order_request_fingerprint
from orders.services.placement import OrderSource, order_create

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("key", [None, "k", "5c6ded1d-a497-4192-8b34-8010114a2b6d", "!" * 64, "a-b_c.d~e"])
def test_a_key_of_up_to_64_printable_ascii_characters_or_none_is_accepted(key):
    idempotency_key_validate(key=key)


@pytest.mark.parametrize("key", ["", "x" * 65, "has space", "中文", "tab\there"])
def test_any_other_key_is_refused_as_invalid_on_the_header(key):
    with pytest.raises(ApplicationError) as refused:
        idempotency_key_validate(key=key)

    assert (refused.value.status_code, refused.value.code) == (400, "invalid")
    assert list(refused.value.fields) == ["Idempotency-Key"]


def test_the_fingerprint_of_a_request_never_changes():
    # Orders placed before keep this digest: a retry of one must still match it after an upgrade.
    fingerprint = order_request_fingerprint(
        address_id=7,
        items=[{"sku_id": 3, "quantity": 2}],
        cart_item_ids=None,
        note="leave at the door",
        source_scene=1043,
        source_campaign="push-42",
    )

    assert fingerprint == "e53ebe36a1ccf4d50a000c73600e3f71fee6e6a30d271a53af9bde945f5d03dc"


def test_the_fingerprint_tells_requests_apart():
    request = {"address_id": 7, "items": None, "cart_item_ids": [1], "note": "", "source_scene": None}

    assert order_request_fingerprint(**request, source_campaign="") != order_request_fingerprint(
        **request, source_campaign="push-42"
    )


def test_a_repeat_gets_the_first_order_and_another_request_with_the_key_is_refused(customer, address, sku):
    def place(quantity: int, campaign: str = "") -> Order:
        return order_create(
            customer=customer,
            address_id=address.pk,
            items=[{"sku_id": sku.pk, "quantity": quantity}],
            source=OrderSource(campaign=campaign),
            idempotency_key="once",
        )

    first = place(1)

    assert place(1) == first
    with pytest.raises(ApplicationError) as refused:
        place(1, campaign="push-42")
    assert (refused.value.status_code, refused.value.code) == (422, "idempotency_key_reused")
    assert Order.objects.count() == 1
    sku.refresh_from_db()
    assert sku.stock == 9
