"""Placing an order on PostgreSQL in one round trip: orders_order_place(), created by orders' migration 0021,
replaced by 0025 (which added the source's page and campaign), 0029 (fewer statements, a json answer),
0030 (an order of one line in one statement) and 0032 (an answer of the values the request does not hold).

The function takes the ORM path's steps under its rules (see the migration); here the request goes
in, and what comes back becomes the same Order, or the same refusal, the ORM path gives.
"""

import functools
import json
from contextlib import nullcontext
from datetime import datetime

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_init, pre_init

from catalog.services import product_detail_cache_invalidate
from config.prepared_statements import prepared_statement_cursor
from orders.exceptions import AddressRequired, InsufficientStock, SkuUnavailable
from orders.models import Order, OrderActor, OrderEvent, OrderLine, OrderStatus
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
    return _order_placed(result, request=request, alias=database.alias)


def _refusal(result: dict) -> Exception:
    if result["refused"] == "address_required":
        return AddressRequired()
    if result["refused"] == "sku_unavailable":
        return SkuUnavailable(sku_id=result["sku_id"])
    return InsufficientStock(sku_id=result["sku_id"], title=result["title"], stock_left=result["stock_left"])


def _order_placed(result: dict, *, request: OrderRequest, alias: str) -> PlacedOrder:
    """The order, lines and event the function wrote: what it answered (0032's values), the rest the request's."""
    order_id, total_fen, recipient, phone, province, city, district, address_detail, campaign_id, created, expires = (
        result["order"]
    )
    created_at = datetime.fromisoformat(created)
    order = _loaded(
        Order,
        alias,
        id=order_id,
        order_no=request.order_no,
        customer_id=request.customer.pk,
        status=OrderStatus.PENDING_PAYMENT.value,
        total_fen=total_fen,
        note=request.note,
        recipient=recipient,
        phone=phone,
        province=province,
        city=city,
        district=district,
        address_detail=address_detail,
        source_scene=request.source_scene,
        source_campaign=request.source_campaign,
        source_path=request.source_path,
        campaign_id=campaign_id,
        idempotency_key=request.idempotency_key,
        request_digest=request.request_digest,
        created_at=created_at,
        expires_at=datetime.fromisoformat(expires),
        paid_at=None,
        shipped_at=None,
        carrier="",
        tracking_number="",
    )
    lines = [
        _loaded(
            OrderLine,
            alias,
            id=line_id,
            order_id=order_id,
            sku_id=sku_id,
            title=title,
            specs=specs,
            image=image,
            price_fen=price_fen,
            quantity=request.quantities[sku_id],
            subtotal_fen=price_fen * request.quantities[sku_id],
        )
        for line_id, sku_id, title, specs, image, price_fen in result["lines"]
    ]
    event = _loaded(
        OrderEvent,
        alias,
        id=result["event"],
        actor=OrderActor.CUSTOMER.value,
        staff_user_id=None,
        reason="",
        # The function writes the event's time and the order's with the same statement_timestamp().
        at=created_at,
        order_id=order_id,
        from_status="",
        to_status=OrderStatus.PENDING_PAYMENT.value,
    )
    return PlacedOrder(order=order, lines=lines, timeline=[event])


def _loaded(model, alias: str, **values):
    """A `model` instance as Model.from_db makes one, `values` holding every concrete field's attname.

    Without Model.__init__, which sets each field through setattr and sends the init signals: for
    three rows an order, that costs more than building them. A model with receivers of those
    signals goes through from_db, so they are sent.
    """
    attnames, names = _attnames(model)
    if values.keys() != names:
        # A field added to the model must be added above (and to 0032's answer if the database sets it).
        raise TypeError(f"{model.__name__}: fields given and the model's differ: {sorted(names ^ values.keys())}")
    if pre_init.has_listeners(model) or post_init.has_listeners(model):
        return model.from_db(alias, attnames, [values[attname] for attname in attnames])
    instance = model.__new__(model)
    instance._state = state = ModelState()
    state.adding = False
    state.db = alias
    instance.__dict__.update(values)
    return instance


@functools.cache
def _attnames(model) -> tuple[list[str], frozenset[str]]:
    attnames = [field.attname for field in model._meta.concrete_fields]
    return attnames, frozenset(attnames)
