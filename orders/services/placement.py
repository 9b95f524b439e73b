"""Placing an order: server-side prices, stock taken by conditional UPDATEs, everything copied onto the order."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone

from campaigns.selectors import campaign_id_for_code
from campaigns.sources import Source
from catalog.models import ProductImage, Sku
from catalog.services import product_detail_cache_invalidate
from config.errors import ApplicationError
from customers.models import Customer
from orders.exceptions import (
    AddressRequired,
    CartItemNotFound,
    EmptyOrder,
    InsufficientStock,
    QuantityTooLarge,
    SkuUnavailable,
)
from orders.models import MAX_LINE_QUANTITY, Address, CartItem, Order, OrderActor, OrderLine, OrderStatus
from orders.services.idempotency import (
    idempotency_key_validate,
    order_for_idempotency_key,
    order_request_fingerprint,
)
from orders.services.placement_in_database import order_place_in_database, order_place_in_database_supported
from orders.services.placement_values import OrderRequest, PlacedOrder
from orders.services.status import ORDER_STATUS

# Where the shopper came from (launch scene, campaign code, page): the source login takes too.
OrderSource = Source


def order_create(
    *,
    customer: Customer,
    address_id: int | None,
    items: list[dict] | None = None,
    cart_item_ids: list[int] | None = None,
    note: str = "",
    source: OrderSource | None = None,
    idempotency_key: str | None = None,
) -> Order:
    """Place an order: order_place's order. See order_place."""
    return order_place(
        customer=customer,
        address_id=address_id,
        items=items,
        cart_item_ids=cart_item_ids,
        note=note,
        source=source,
        idempotency_key=idempotency_key,
    ).order


def order_place(
    *,
    customer: Customer,
    address_id: int | None,
    items: list[dict] | None = None,
    cart_item_ids: list[int] | None = None,
    note: str = "",
    source: OrderSource | None = None,
    idempotency_key: str | None = None,
) -> PlacedOrder:
    """Place an order for `items` ({"sku_id", "quantity"}) or for the customer's cart lines `cart_item_ids`.

    With an idempotency key, a repeat of the same request returns the order the first one
    made, even when both arrive at once; the same key with a different request is refused.
    The key's shape is checked first (the API checks it before the body too, so that a bad key is
    the error a client sees). Prices come from the catalog, never from the client.
    The order comes with the lines and timeline it has, so an answer need not read them again.
    """
    idempotency_key_validate(key=idempotency_key)
    source = source or OrderSource()
    fingerprint = order_request_fingerprint(
        address_id=address_id,
        items=items,
        cart_item_ids=cart_item_ids,
        note=note,
        source_scene=source.scene,
        source_campaign=source.campaign,
        source_path=source.path,
    )
    # No lookup first: the unique index refuses a repeat at its INSERT, so a first request
    # (nearly all of them) costs one query fewer.
    try:
        request = OrderRequest(
            customer=customer,
            address_id=address_id,
            quantities=_quantities_requested(customer=customer, items=items, cart_item_ids=cart_item_ids),
            cart_item_ids=cart_item_ids or [],
            order_no=_order_no_new(),
            note=note,
            source_scene=source.scene,
            source_campaign=source.campaign,
            source_path=source.path,
            idempotency_key=idempotency_key or "",
            request_digest=fingerprint,
        )
        # PostgreSQL places it in one statement; elsewhere (SQLite) the ORM takes the same steps.
        if order_place_in_database_supported():
            return order_place_in_database(request=request)
        return _order_place(request=request)
    except (IntegrityError, ApplicationError):
        # An earlier request with the same key may have committed first: ours then failed on
        # the unique index, or found the cart lines already ordered or the stock gone. Either
        # way it rolled back whole, stock included, and the first request's order is the answer.
        if idempotency_key and (
            earlier := order_for_idempotency_key(customer=customer, key=idempotency_key, fingerprint=fingerprint)
        ):
            return PlacedOrder(order=earlier, lines=list(earlier.lines.all()), timeline=list(earlier.events.all()))
        raise


def _quantities_requested(
    *, customer: Customer, items: list[dict] | None, cart_item_ids: list[int] | None
) -> dict[int, int]:
    """SKU id -> quantity, lines for the same SKU added together."""
    if cart_item_ids:
        cart_items = list(CartItem.objects.filter(customer=customer, pk__in=cart_item_ids))
        if missing := sorted(set(cart_item_ids) - {cart_item.pk for cart_item in cart_items}):
            raise CartItemNotFound(fields={"cart_item_ids": list(missing)})
        pairs = [(cart_item.sku_id, cart_item.quantity) for cart_item in cart_items]
    else:
        pairs = [(item["sku_id"], item["quantity"]) for item in items or []]
    quantities: dict[int, int] = {}
    for sku_id, quantity in pairs:
        quantities[sku_id] = quantities.get(sku_id, 0) + quantity
    if not quantities:
        raise EmptyOrder()
    if any(quantity > MAX_LINE_QUANTITY for quantity in quantities.values()):
        raise QuantityTooLarge(limit=MAX_LINE_QUANTITY)
    return quantities


@transaction.atomic
def _order_place(*, request: OrderRequest) -> PlacedOrder:
    customer, address_id, quantities = request.customer, request.address_id, request.quantities
    address = Address.objects.filter(customer=customer, pk=address_id).first() if address_id else None
    if address is None:
        raise AddressRequired()
    skus = _skus_for_sale(sku_ids=list(quantities))

    now = timezone.now()
    lines = [
        OrderLine(
            sku=sku,
            title=sku.product.title,
            specs=sku.specs,
            image=default_storage.url(sku.main_image) if sku.main_image else "",
            price_fen=sku.price_fen,
            quantity=quantities[sku.pk],
            subtotal_fen=sku.price_fen * quantities[sku.pk],
        )
        for sku in skus
    ]
    order = Order.objects.create(
        order_no=request.order_no,
        customer=customer,
        status=OrderStatus.PENDING_PAYMENT,
        total_fen=sum(line.subtotal_fen for line in lines),
        note=request.note,
        recipient=address.recipient,
        phone=address.phone,
        province=address.province,
        city=address.city,
        district=address.district,
        address_detail=address.detail,
        source_scene=request.source_scene,
        source_campaign=request.source_campaign,
        source_path=request.source_path,
        # The function's path finds it in the same statement; the code is kept whether or not it is ours.
        campaign_id=campaign_id_for_code(code=request.source_campaign),
        idempotency_key=request.idempotency_key,
        request_digest=request.request_digest,
        expires_at=now + timedelta(minutes=settings.ORDER_PAYMENT_TIMEOUT_MINUTES),
    )
    for line in lines:
        line.order = order
    OrderLine.objects.bulk_create(lines)
    event = ORDER_STATUS.record_creation(order, actor=OrderActor.CUSTOMER)
    if request.cart_item_ids:
        CartItem.objects.filter(customer=customer, pk__in=request.cart_item_ids).delete()

    # Last, so the SKU row locks are held only from here to the commit: a hot SKU's
    # buyers queue for two statements, not the whole order.
    _stock_take(skus=skus, quantities=quantities)
    return PlacedOrder(order=order, lines=lines, timeline=[event])


def _skus_for_sale(*, sku_ids: list[int]) -> list[Sku]:
    """The SKUs in id order, each active on an active product, or SkuUnavailable for the first that is not."""
    main_image = ProductImage.objects.filter(product=OuterRef("product")).order_by("position", "id").values("image")
    found = Sku.objects.select_related("product").annotate(main_image=Subquery(main_image[:1])).in_bulk(sku_ids)
    for sku_id in sorted(sku_ids):
        sku = found.get(sku_id)
        if sku is None or not sku.is_active or not sku.product.is_active:
            raise SkuUnavailable(sku_id=sku_id)
    return [found[sku_id] for sku_id in sorted(sku_ids)]


def _stock_take(*, skus: list[Sku], quantities: dict[int, int]) -> None:
    # One conditional UPDATE per SKU, in id order: the database row lock each takes is
    # the only lock, and a fixed order means two multi-line orders never wait on each other in a cycle.
    product_detail_cache_invalidate(product_ids={sku.product_id for sku in skus}, stock_taken_only=True)
    for sku in skus:
        quantity = quantities[sku.pk]
        taken = Sku.objects.filter(pk=sku.pk, is_active=True, stock__gte=quantity).update(stock=F("stock") - quantity)
        if not taken:
            current = Sku.objects.filter(pk=sku.pk).values("stock", "is_active").first()
            if current is None or not current["is_active"]:
                raise SkuUnavailable(sku_id=sku.pk)
            raise InsufficientStock(sku_id=sku.pk, title=sku.product.title, stock_left=current["stock"])


def _order_no_new() -> str:
    # Beijing time to the second, then 10 random digits: sortable, and 10^10 guesses a second to find one.
    return f"{timezone.localtime():%Y%m%d%H%M%S}{secrets.randbelow(10**10):010d}"
