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

import os
import threading
import uuid
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from django.core.cache import cache
from django_redis.client import DefaultClient
from redis.exceptions import RedisError

# Each thread's own connection to the cache's Redis, for the tokens' writes (every order makes one):
# taking a connection from redis-py's pool and giving it back costs more than the SET itself.
_own = threading.local()


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
    client = getattr(cache, "client", None)
    if isinstance(client, DefaultClient):
        try:
            _tokens_write_on_own_connection(client, tokens)
            return
        except RedisError:
            # Written or not, new tokens through the pool (its retries, django-redis's error handling)
            # leave no answer current that was rendered before the commit.
            pass
    if len(tokens) == 1:
        # One SET: set_many would wrap even one key in a transaction.
        [(key, token)] = tokens.items()
        cache.set(key, token, None)
    else:
        cache.set_many(tokens, None)


def _tokens_write_on_own_connection(client: DefaultClient, tokens: dict[str, str]) -> None:
    """One SET, or one MSET for several (atomic as set_many's MULTI/EXEC, one reply instead of four;
    the tokens never expire, so MSET's lack of one loses nothing), its reply read before returning."""
    pairs = [item for key, token in tokens.items() for item in (client.make_key(key), client.encode(token))]
    connection = _own_connection(client)
    try:
        connection.send_command("SET" if len(tokens) == 1 else "MSET", *pairs)
        connection.read_response()
    except BaseException:
        # Whatever stopped it, a reply left unread would answer the next write: start that one afresh.
        connection.disconnect()
        raise


def _own_connection(client: DefaultClient):
    """This thread's connection to the pool's server, made with the pool's settings; a new one after a fork."""
    pool = client.get_client(write=True).connection_pool
    if getattr(_own, "pool", None) is not pool or _own.pid != os.getpid():
        _own.pool, _own.pid, _own.connection = pool, os.getpid(), pool.connection_class(**pool.connection_kwargs)
    return _own.connection
