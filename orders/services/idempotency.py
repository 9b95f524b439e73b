"""The Idempotency-Key of order create: the key's shape, the request's fingerprint, and what a repeat gets.

The database holds the rule itself (one order per customer and key, a unique index);
here is what the first order's answer is given to: the same request again, never another.
"""

import hashlib
import json
import re

from customers.models import Customer
from orders.exceptions import IdempotencyKeyInvalid, IdempotencyKeyReused
from orders.models import Order

IDEMPOTENCY_KEY_PATTERN = re.compile(r"[!-~]{1,64}")  # printable ASCII, as the header's users send UUIDs


def idempotency_key_validate(*, key: str | None) -> None:
    """Refuse a key that is not 1 to 64 printable ASCII characters; no key at all is fine."""
    if key is not None and not IDEMPOTENCY_KEY_PATTERN.fullmatch(key):
        raise IdempotencyKeyInvalid()


def order_request_fingerprint(
    *,
    address_id: int | None,
    items: list[dict] | None,
    cart_item_ids: list[int] | None,
    note: str,
    source_scene: int | None,
    source_campaign: str,
    source_path: str = "",
) -> str:
    """A digest of everything an order request asks for, stored on the order to tell a retry from another request.

    Orders already placed keep the digest this made when they were placed, so its input's
    shape must not change, or a retry of one of them would be refused as another request:
    the page, added later, enters it only when there is one.
    """
    source = {"scene": source_scene, "campaign": source_campaign}
    if source_path:
        source["path"] = source_path
    request = {
        "address_id": address_id,
        "items": items,
        "cart_item_ids": cart_item_ids,
        "note": note,
        "source": source,
    }
    return hashlib.sha256(json.dumps(request, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def order_for_idempotency_key(*, customer: Customer, key: str, fingerprint: str) -> Order | None:
    """The customer's order placed with `key`, if any; IdempotencyKeyReused if it was placed for another request."""
    order = Order.objects.filter(customer=customer, idempotency_key=key).first()
    if order is not None and order.request_digest != fingerprint:
        raise IdempotencyKeyReused()
    return order
