"""Which version of the storefront's list answers is current, kept in the shared cache.

One token for every list: a cached list answer records the token it was rendered
under and is served only while that token is current. Every catalog write that can
change a list (a product's fields, shelf state, prices, SKUs, images, sales, a
category) replaces it after its commit (catalog.services.storefront_lists_invalidate).
An order taking stock does not: it only lowers stock, so it can change a list only by
selling a SKU out, and a list answer older than the max-age is served again only while
the number of sold-out SKUs is what it was at render (catalog/storefront_caching.py),
so orders placed every second do not throw every list away.

Random tokens, read before the query, as for details (catalog/product_detail_cache.py).
"""

import uuid

from django.core.cache import cache

STOREFRONT_LIST_VERSION_KEY = "catalog:storefront-list-version"


def storefront_list_version_current(*, known: str | None) -> str | None:
    """The lists' current token: `known` (read with the answer) if set, else a new one added now."""
    if known is not None:
        return known
    cache.add(STOREFRONT_LIST_VERSION_KEY, uuid.uuid4().hex, timeout=None)  # a no-op if another reader added one
    return cache.get(STOREFRONT_LIST_VERSION_KEY)


def storefront_list_version_replace() -> None:
    cache.set(STOREFRONT_LIST_VERSION_KEY, uuid.uuid4().hex, None)


def storefront_list_version_new() -> dict[str, str]:
    """A new token for the lists, for a caller that writes it with others in one round trip."""
    return {STOREFRONT_LIST_VERSION_KEY: uuid.uuid4().hex}
