"""The body of POST /api/v1/orders in its everyday shape, checked without building DRF's serializer.

OrderCreateApi.InputSerializer stays the contract: it is the schema's source, and every body this
module does not vouch for goes through it, with its field-level errors. Building it costs each
request a deep copy of its fields and its nested serializers' (DRF's Serializer.fields), more CPU
than the rest of the validation; a shopper's order is nearly always the same plain shape. For that
shape alone this gives what the serializer's validated_data gives; anything else, valid or not, is
None, and the serializer decides. tests/orders/test_order_create_input.py holds the two equal.
"""

# The shape vouched for: SKUs and quantities, the address, an optional note. Cart orders and a
# source go to the serializer (their rules live in it and in campaigns/sources.py).
PLAIN_KEYS = frozenset({"items", "address_id", "note"})
ITEM_KEYS = frozenset({"sku_id", "quantity"})
# The body's limits, the input serializer's too (one source for both).
MAX_ITEMS = 50
MAX_NOTE_LENGTH = 200


def order_create_input_plain(data, *, max_id: int, max_quantity: int) -> dict | None:
    """validated_data as the input serializer would give it for a plain body, or None to let the serializer decide."""
    if type(data) is not dict or not data.keys() <= PLAIN_KEYS:
        return None
    items, address_id = data.get("items"), data.get("address_id")
    if type(items) is not list or not 1 <= len(items) <= MAX_ITEMS or not _in_range(address_id, max_id):
        return None
    for item in items:
        # bool is a subclass of int, which the serializer refuses: type(), not isinstance().
        if (
            type(item) is not dict
            or item.keys() != ITEM_KEYS
            or not _in_range(item["sku_id"], max_id)
            or not _in_range(item["quantity"], max_quantity)
        ):
            return None
    note = data.get("note", "")
    if type(note) is not str:
        return None
    note = note.strip()  # the serializer's CharField trims
    if len(note) > MAX_NOTE_LENGTH or "\x00" in note or not _encodable(note):
        return None
    return {
        "items": [{"sku_id": item["sku_id"], "quantity": item["quantity"]} for item in items],
        "address_id": address_id,
        "note": note,
    }


def _in_range(value, maximum: int) -> bool:
    return type(value) is int and 1 <= value <= maximum


def _encodable(text: str) -> bool:
    # The serializer refuses lone surrogates (which JSON's \ud800 can carry): UTF-8 cannot encode them.
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True
