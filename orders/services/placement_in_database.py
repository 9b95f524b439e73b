"""Placing an order on PostgreSQL in one round trip: orders_order_place(), created by orders' migration 0021,
replaced by 0025 (which added the source's page and campaign), 0029 (fewer statements, a json answer) and
0030 (an order of one line in one statement).

The function takes the ORM path's steps under its rules (see the migration); here the request goes
in, and what comes back becomes the same Order, or the same refusal, the ORM path gives.
"""

import functools
import json
from contextlib import nullcontext
from datetime import datetime

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction

from catalog.services import product_detail_cache_invalidate
from config.prepared_statements import prepared_statement_cursor
from orders.exceptions import AddressRequired, InsufficientStock, SkuUnavailable
from orders.models import Order, OrderEvent, OrderLine
from orders.services.placement_values import OrderRequest, PlacedOrder


@functools.lru_cache(maxsize=64)
def _place_statement(lines: int, cart_items: int) -> str:
    """The call for an order of `lines` SKUs emptying `cart_items` cart lines: each id and quantity a parameter.

    PostgreSQL builds the arrays (ARRAY[...]) from plain integers: adapting a Python list as an array
    costs psycopg about 0.03 ms an order in Python (measured), more than the other twelve arguments together.
    psycopg prepares each text on its own, so a shape used often (one line, no cart) is planned once.
    """
    return (
        f"SELECT orders_order_place(%s, %s, {_array(lines, 'bigint')}, {_array(lines, 'integer')}, "
        f"{_array(cart_items, 'bigint')}, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )


def _array(length: int, element_type: str) -> str:
    return f"ARRAY[{', '.join(['%s'] * length)}]::{element_type}[]"


def order_place_in_database_supported() -> bool:
    """PostgreSQL, with images whose URL is the storage's root URL and their name, as the function builds it."""
    return connection.vendor == "postgresql" and isinstance(default_storage, FileSystemStorage)


def order_place_in_database(*, request: OrderRequest) -> PlacedOrder:
    """Place the order with one statement; raise what the ORM path raises for a refusal."""
    if request.address_id is None:
        raise AddressRequired()
    sku_ids = sorted(request.quantities)
    arguments = [
        request.customer.pk,
        request.address_id,
        *sku_ids,
        *[request.quantities[sku_id] for sku_id in sku_ids],
        *request.cart_item_ids,
        request.order_no,
        request.note,
        request.source_scene,
        request.source_campaign,
        request.source_path,
        request.idempotency_key,
        request.request_digest,
        settings.ORDER_PAYMENT_TIMEOUT_MINUTES,
        default_storage.url(""),
    ]
    # This thread's connection, looked up once: each use of django.db.connection looks it up again.
    database = connections[DEFAULT_DB_ALIAS]
    # Alone, the statement is its own transaction (one round trip); inside a caller's
    # transaction a savepoint keeps a failure (a repeated Idempotency-Key) from aborting it.
    with transaction.atomic() if database.in_atomic_block else nullcontext():
        with prepared_statement_cursor(database) as cursor:
            cursor.execute(_place_statement(len(sku_ids), len(request.cart_item_ids)), arguments)
            (result,) = cursor.fetchone()
    # psycopg decodes json; Django's PostgreSQL backend leaves jsonb (0025's answer) as text.
    result = json.loads(result) if isinstance(result, str) else result
    if "refused" in result:
        raise _refusal(result)
    product_detail_cache_invalidate(product_ids=result["product_ids"], stock_taken_only=True)
    return _order_placed(result, alias=database.alias)


def _refusal(result: dict) -> Exception:
    if result["refused"] == "address_required":
        return AddressRequired()
    if result["refused"] == "sku_unavailable":
        return SkuUnavailable(sku_id=result["sku_id"])
    return InsufficientStock(sku_id=result["sku_id"], title=result["title"], stock_left=result["stock_left"])


def _order_placed(result: dict, *, alias: str) -> PlacedOrder:
    return PlacedOrder(
        order=_row_as_model(Order, result["order"], alias=alias),
        lines=[_row_as_model(OrderLine, line, alias=alias) for line in result["lines"]],
        timeline=[_row_as_model(OrderEvent, result["event"], alias=alias)],
    )


def _row_as_model(model, row: dict, *, alias: str):
    attnames, columns_and_decoders = _model_columns(model)
    return model.from_db(
        alias,
        attnames,
        [row[column] if decode is None else decode(row[column]) for column, decode in columns_and_decoders],
    )


@functools.cache
def _model_columns(model) -> tuple[list[str], list[tuple]]:
    """The model's attribute names, and each column with what turns its JSON value into the field's.

    JSON gives strings, numbers, null and objects as the fields hold them, but for timestamps
    (ISO 8601 strings, to_json's form): Field.to_python's checks around the same parse cost more
    than the parse, three rows an order.
    """
    fields = model._meta.concrete_fields
    decoders = [(field.column, _iso_datetime if isinstance(field, models.DateTimeField) else None) for field in fields]
    return [field.attname for field in fields], decoders


def _iso_datetime(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)
