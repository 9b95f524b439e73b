"""Which version of a product's detail answer is current, kept in the shared cache.

Each product has a version token in the shared cache; a cached detail answer
records the token it was rendered under and is served only while that token is
still current. Every write that changes what the detail shows replaces the
token after its commit (catalog.services.product_detail_cache_invalidate), so an
answer can stay cached for minutes and still never outlive a change.

Tokens are random, not counters: a token evicted from the cache is replaced by
a new one that no stored answer carries, so eviction costs a miss, never a stale
answer. A reader takes the token before it queries, so an answer rendered from
rows read before a commit is stored under the old token and never served after.
"""

import uuid
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from django.core.cache import cache
from django_redis.client import DefaultClient


def product_detail_version_key(product_id: int) -> str:
    return f"catalog:product-detail-version:{product_id}"


def product_detail_version_current(*, product_id: int, known: str | None) -> str | None:
    """The product's current token: `known` (read with the answer) if set, else a new one added now."""
    if known is not None:
        return known
    key = product_detail_version_key(product_id)
    cache.add(key, uuid.uuid4().hex, timeout=None)  # a no-op if another reader added one first
    return cache.get(key)


def product_detail_versions_replace(
    *, product_ids: Iterable[int], together_with: Mapping[str, str] = MappingProxyType({})
) -> None:
    """New tokens for these products; `together_with`: other tokens (the lists') written in the same round trip."""
    tokens = {product_detail_version_key(product_id): uuid.uuid4().hex for product_id in product_ids}
    tokens.update(together_with)
    if len(tokens) == 1:
        # One SET: set_many wraps even one key in MULTI/EXEC on Redis, three replies to read for one.
        [(key, token)] = tokens.items()
        cache.set(key, token, None)
    elif isinstance(getattr(cache, "client", None), DefaultClient):
        # On Redis one MSET: atomic as set_many's MULTI/EXEC around a SET a key is, but one command and one
        # reply instead of four, about half the CPU; the tokens never expire, so MSET's lack of one loses nothing.
        client = cache.client
        client.get_client(write=True).mset(
            {client.make_key(key): client.encode(token) for key, token in tokens.items()}
        )
    else:
        cache.set_many(tokens, None)
