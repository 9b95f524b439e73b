"""Caching of the storefront's public reads: rendered answers with their ETags, and 304s.

Two tiers. The shared cache every web process reads keeps the category tree for
its max-age, a product's detail until the product changes
(catalog/product_detail_cache.py), and a list until the catalog changes
(catalog/storefront_list_cache.py), checked against the number of sold-out SKUs
once the max-age has passed. In front of it, each process keeps its own
copies for at most the max-age, so that the hottest reads are answered without
a round trip to the shared cache, which alone takes much of a cached read's
throughput (docs/benchmarks.md, bench/storefront_read.py). An
answer is thus at most the max-age old, as the API documents and as phones and
proxies may keep it anyway.
"""

import hashlib
import time
from functools import wraps

from django.core.cache import cache, caches
from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers, set_response_etag

from catalog.product_detail_cache import product_detail_version_current, product_detail_version_key
from catalog.selectors import storefront_skus_sold_out_count
from catalog.storefront_list_cache import STOREFRONT_LIST_VERSION_KEY, storefront_list_version_current

# How old an answer may be: phones and proxies keep it this long (Cache-Control), and so does
# the server, so a shopper sees a price or stock at most twice this old. Order creation
# checks both again, and this is what lets the storefront stand a crowd.
STOREFRONT_MAX_AGE_SECONDS = 15
# A product detail answer stays in the shared cache until the product changes (see
# catalog/product_detail_cache.py); this bound only lets unread answers leave the cache.
PRODUCT_DETAIL_SERVER_CACHE_SECONDS = 10 * 60
# The same bound for list answers kept until the catalog changes.
PRODUCT_LIST_SERVER_CACHE_SECONDS = 10 * 60
# Accept headers that all get the plain JSON rendering: one cached answer serves them all.
PLAIN_JSON_ACCEPTS = {"", "*/*", "application/json"}


def _answer_key(request) -> str:
    accept = request.headers.get("Accept", "")
    key_source = f"{request.build_absolute_uri()}|{'' if accept in PLAIN_JSON_ACCEPTS else accept}"
    # v2: list entries carry their deadline; entries of the earlier shape are never read.
    return "storefront:v2:" + hashlib.sha256(key_source.encode()).hexdigest()


def _rendered_for_cache(view, request, args, kwargs):
    """The view's answer, rendered, with its ETag if it is a 200 worth keeping; else None beside it."""
    response = view(request, *args, **kwargs)
    if callable(getattr(response, "render", None)) and not response.is_rendered:
        response.render()
    if response.status_code != 200:
        return response, None
    set_response_etag(response)
    return response, (response.content, response["Content-Type"], response["ETag"])


def _answer_from_cache(content: bytes, content_type: str, etag: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["ETag"] = etag
    return response


def _public_and_conditional(request, response):
    patch_cache_control(response, public=True, max_age=STOREFRONT_MAX_AGE_SECONDS)
    patch_vary_headers(response, ["Accept"])
    return get_conditional_response(request, etag=response["ETag"], response=response)


def _process_copy(key: str) -> tuple | None:
    return caches["storefront_local"].get(key)


def _process_copy_keep(key: str, kept: tuple, seconds: float | None = None) -> None:
    seconds = STOREFRONT_MAX_AGE_SECONDS if seconds is None else seconds
    if seconds > 0:
        caches["storefront_local"].set(key, kept, seconds)


def _shared_answer(key: str) -> tuple | None:
    """(content, content type, ETag) kept under `key`, copied into this process until the shared entry's deadline."""
    if (shared := cache.get(key)) is None:
        return None
    *kept, deadline = shared
    _process_copy_keep(key, tuple(kept), deadline - time.time())
    return tuple(kept)


def _shared_answer_keep(key: str, kept: tuple) -> None:
    cache.set(key, (*kept, time.time() + STOREFRONT_MAX_AGE_SECONDS), STOREFRONT_MAX_AGE_SECONDS)
    _process_copy_keep(key, kept)


def storefront_cached(view):
    """Serve a public read from the caches for its max-age, with an ETag and 304s.

    Django's cache_page would do, but this read is the storefront's hottest path:
    keeping only the rendered bytes and their ETag, keyed by URL and Accept,
    makes a cache hit cost little more than a prebuilt answer (bench/storefront_read.py).
    """

    @wraps(view)
    def answered(request, *args, **kwargs):
        if request.method not in {"GET", "HEAD"}:
            return view(request, *args, **kwargs)
        key = _answer_key(request)
        if (kept := _process_copy(key) or _shared_answer(key)) is not None:
            return _public_and_conditional(request, _answer_from_cache(*kept))
        response, kept = _rendered_for_cache(view, request, args, kwargs)
        if kept is None:
            return response
        _shared_answer_keep(key, kept)
        return _public_and_conditional(request, response)

    return answered


def product_detail_cached(view):
    """Like storefront_cached, but the shared cache keeps an answer until its product changes.

    Random reads over a large catalog rarely repeat within 15 s, so a short-lived
    entry mostly missed. The answer is stored with the product's version token and
    served only while the token is current; writes replace the token after commit
    (catalog.services.product_detail_cache_invalidate). One round trip reads both.
    A process's own copy lasts the max-age from when it was checked.
    """

    @wraps(view)
    def answered(request, *args, product_id: int, **kwargs):
        if request.method not in {"GET", "HEAD"}:
            return view(request, *args, product_id=product_id, **kwargs)
        key = _answer_key(request)
        if (kept := _process_copy(key)) is not None:
            return _public_and_conditional(request, _answer_from_cache(*kept))
        version_key = product_detail_version_key(product_id)
        found = cache.get_many([key, version_key])
        cached, version = found.get(key), found.get(version_key)
        if cached is not None and version is not None and cached[0] == version:
            _process_copy_keep(key, cached[1:])
            return _public_and_conditional(request, _answer_from_cache(*cached[1:]))
        # The token before the query: rows read before a write's commit are kept under the old token.
        version = product_detail_version_current(product_id=product_id, known=version)
        response, kept = _rendered_for_cache(view, request, args, {**kwargs, "product_id": product_id})
        if kept is None:
            return response
        if version is not None:
            cache.set(key, (version, *kept), PRODUCT_DETAIL_SERVER_CACHE_SECONDS)
            _process_copy_keep(key, kept)
        return _public_and_conditional(request, response)

    return answered


# How long a process shares one count of sold-out SKUs among its list reads; an answer it
# vouches for is as old as the count, so its copy ends that much sooner.
SOLD_OUT_COUNT_SHARED_SECONDS = 1.0
_sold_out_count: tuple[float, int] | None = None  # (taken at, count), this process's


def _sold_out_count_recent() -> tuple[float, int]:
    """(taken at, count) of storefront_skus_sold_out_count, taken at most SOLD_OUT_COUNT_SHARED_SECONDS ago."""
    global _sold_out_count
    known = _sold_out_count
    if known is None or time.time() - known[0] >= SOLD_OUT_COUNT_SHARED_SECONDS:
        taken_at = time.time()  # before the query: the count is at least this fresh
        known = _sold_out_count = (taken_at, storefront_skus_sold_out_count())
    return known


def product_list_cached(view):
    """Like storefront_cached, but the shared cache keeps a list answer until the catalog changes.

    2,000 list URLs over several processes rarely repeat within 15 s, so entries that
    lived 15 s mostly missed, and a miss queries and serializes (docs/benchmarks.md).
    An entry records the lists' version token and the number of sold-out SKUs, both
    taken before the query, and when it was counted. It is served while the
    token is current (every catalog write but an order taking stock replaces it), and
    once older than the max-age only if the sold-out count still holds: orders only take
    stock, so no product has then changed its `in_stock` or joined or left a list by it.
    One count a second per process vouches for every list the process reads.
    """

    @wraps(view)
    def answered(request, *args, **kwargs):
        if request.method not in {"GET", "HEAD"}:
            return view(request, *args, **kwargs)
        key = _answer_key(request)
        if (kept := _process_copy(key)) is not None:
            return _public_and_conditional(request, _answer_from_cache(*kept))
        found = cache.get_many([key, STOREFRONT_LIST_VERSION_KEY])
        entry, version = found.get(key), found.get(STOREFRONT_LIST_VERSION_KEY)
        if entry is not None and version is not None and entry[0] == version:
            if (kept := _list_entry_current(key, entry)) is not None:
                return _public_and_conditional(request, _answer_from_cache(*kept))
        # The token and the count before the query: rows read before a write are kept under the old ones.
        version = storefront_list_version_current(known=version)
        counted_at, sold_out = _sold_out_count_recent()
        response, kept = _rendered_for_cache(view, request, args, kwargs)
        if kept is None:
            return response
        if version is not None:
            cache.set(key, (version, sold_out, counted_at, *kept), PRODUCT_LIST_SERVER_CACHE_SECONDS)
            _process_copy_keep(key, kept, STOREFRONT_MAX_AGE_SECONDS - (time.time() - counted_at))
        return _public_and_conditional(request, response)

    return answered


def _list_entry_current(key: str, entry: tuple) -> tuple | None:
    """The entry's (content, content type, ETag) if it may still be served, copied into this process; else None."""
    version, sold_out, known_at, *kept = entry
    age = time.time() - known_at
    if age < STOREFRONT_MAX_AGE_SECONDS:
        _process_copy_keep(key, tuple(kept), STOREFRONT_MAX_AGE_SECONDS - age)
        return tuple(kept)
    counted_at, sold_out_now = _sold_out_count_recent()
    if sold_out_now != sold_out:
        return None
    # Not written back to the shared cache: rewriting the body costs a round trip, and every
    # process vouches for it again from its own count for free.
    _process_copy_keep(key, tuple(kept), STOREFRONT_MAX_AGE_SECONDS - (time.time() - counted_at))
    return tuple(kept)
