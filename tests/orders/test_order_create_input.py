"""order_create_input_plain() vouches only for bodies the input serializer accepts, and gives what it gives."""

import json

import pytest

from orders.apis import MAX_ID, OrderCreateApi
from orders.models import MAX_LINE_QUANTITY
from orders.order_create_input import order_create_input_plain


def _item(sku_id=7, quantity=1) -> dict:
    return {"sku_id": sku_id, "quantity": quantity}


PLAIN = [
    {"items": [_item()], "address_id": 5},
    {"items": [_item(), _item(8, 3)], "address_id": 5, "note": ""},
    {"items": [_item()], "address_id": 5, "note": "  请放门口 \n"},
    {"items": [_item()], "address_id": 5, "note": "第一行\n第二行\t"},
    {"items": [_item(7, 2), _item(7, 3)], "address_id": 5},  # the same SKU twice: the service adds them
    {"items": [_item(MAX_ID, MAX_LINE_QUANTITY)], "address_id": MAX_ID},
    {"items": [_item(index, 1) for index in range(1, 51)], "address_id": 1},
    {"items": [_item()], "address_id": 5, "note": "x" * 200},
    {"items": [_item()], "address_id": 5, "note": " " + "x" * 200 + " "},
]
# Valid or not, not the plain shape: the serializer decides each.
OTHERS = [
    [_item()],
    {"items": [_item()]},
    {"items": [], "address_id": 5},
    {"items": [_item(index, 1) for index in range(1, 52)], "address_id": 5},
    {"items": _item(), "address_id": 5},
    {"items": [_item()], "address_id": True},
    {"items": [_item(True)], "address_id": 5},
    {"items": [_item(7, True)], "address_id": 5},
    {"items": [_item("7")], "address_id": 5},
    {"items": [_item(7, 1.0)], "address_id": 5},
    {"items": [_item()], "address_id": "5"},
    {"items": [_item(0)], "address_id": 5},
    {"items": [_item(-1)], "address_id": 5},
    {"items": [_item(MAX_ID + 1)], "address_id": 5},
    {"items": [_item(7, 0)], "address_id": 5},
    {"items": [_item(7, MAX_LINE_QUANTITY + 1)], "address_id": 5},
    {"items": [_item()], "address_id": 0},
    {"items": [_item()], "address_id": MAX_ID + 1},
    {"items": [{"sku_id": 7}], "address_id": 5},
    {"items": [{**_item(), "price_fen": 1}], "address_id": 5},
    {"items": ["7"], "address_id": 5},
    {"items": [_item()], "address_id": 5, "note": None},
    {"items": [_item()], "address_id": 5, "note": 5},
    {"items": [_item()], "address_id": 5, "note": "x" * 201},
    {"items": [_item()], "address_id": 5, "note": "a\x00b"},
    {"items": [_item()], "address_id": 5, "note": "a\ud800b"},
    {"items": [_item()], "address_id": 5, "cart_item_ids": [3]},
    {"cart_item_ids": [3], "address_id": 5},
    {"items": [_item()], "address_id": 5, "source": {"scene": 1058}},
    {"items": [_item()], "address_id": 5, "coupon": "FREE"},
]


def _validated(body):
    serializer = OrderCreateApi.InputSerializer(data=body)
    if not serializer.is_valid():
        return None
    return json.loads(json.dumps(serializer.validated_data))


@pytest.mark.parametrize("body", PLAIN)
def test_a_plain_body_is_checked_by_hand_and_gives_what_the_serializer_gives(body):
    by_hand = order_create_input_plain(body, max_id=MAX_ID, max_quantity=MAX_LINE_QUANTITY)

    assert by_hand is not None
    assert by_hand == _validated(body)


@pytest.mark.parametrize("body", OTHERS)
def test_any_other_body_is_left_to_the_serializer(body):
    assert order_create_input_plain(body, max_id=MAX_ID, max_quantity=MAX_LINE_QUANTITY) is None


def test_the_others_include_bodies_the_serializer_accepts_and_refuses():
    # Both kinds are left to it: the hand check is narrower than the contract, never wider.
    outcomes = {_validated(body) is None for body in OTHERS}

    assert outcomes == {True, False}
