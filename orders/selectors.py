import re
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet

from catalog.models import ProductImage
from customers.models import Customer
from orders.exceptions import AddressNotFound, CartItemNotFound, OrderNotFound
from orders.models import Address, CartItem, Order, OrderLine

ORDER_NO_PATTERN = re.compile(r"[0-9]{1,32}")


class Unavailability:
    OFF_SHELF = "off_shelf"
    OUT_OF_STOCK = "out_of_stock"
    INSUFFICIENT_STOCK = "insufficient_stock"


@dataclass(frozen=True)
class CartLine:
    """A cart line at today's price, and whether it can be ordered as it stands."""

    id: int
    sku_id: int
    title: str
    specs: dict
    image: str
    price_fen: int
    quantity: int
    subtotal_fen: int
    stock: int
    unavailable_reason: str | None

    @property
    def available(self) -> bool:
        return self.unavailable_reason is None


@dataclass(frozen=True)
class Cart:
    lines: list[CartLine]

    @property
    def subtotal_fen(self) -> int:
        """What the lines that can be ordered now cost."""
        return sum(line.subtotal_fen for line in self.lines if line.available)


def cart_for_customer(*, customer: Customer) -> Cart:
    images = Prefetch("sku__product__images", queryset=ProductImage.objects.order_by("position", "id"))
    cart_items = CartItem.objects.filter(customer=customer).select_related("sku__product").prefetch_related(images)
    return Cart(lines=[_cart_line(cart_item) for cart_item in cart_items])


def _cart_line(cart_item: CartItem) -> CartLine:
    sku = cart_item.sku
    images = list(sku.product.images.all())
    if not (sku.is_active and sku.product.is_active):
        reason = Unavailability.OFF_SHELF
    elif sku.stock == 0:
        reason = Unavailability.OUT_OF_STOCK
    elif sku.stock < cart_item.quantity:
        reason = Unavailability.INSUFFICIENT_STOCK
    else:
        reason = None
    return CartLine(
        id=cart_item.pk,
        sku_id=sku.pk,
        title=sku.product.title,
        specs=sku.specs,
        image=images[0].image.url if images else "",
        price_fen=sku.price_fen,
        quantity=cart_item.quantity,
        subtotal_fen=sku.price_fen * cart_item.quantity,
        stock=sku.stock,
        unavailable_reason=reason,
    )


def cart_item_for_customer(*, customer: Customer, cart_item_id: int) -> CartItem:
    cart_item = CartItem.objects.filter(customer=customer, pk=cart_item_id).first()
    if cart_item is None:
        raise CartItemNotFound()
    return cart_item


def addresses_for_customer(*, customer: Customer) -> QuerySet[Address]:
    return Address.objects.filter(customer=customer)


def address_for_customer(*, customer: Customer, address_id: int) -> Address:
    address = Address.objects.filter(customer=customer, pk=address_id).select_related("customer").first()
    if address is None:
        raise AddressNotFound()
    return address


def orders_for_customer(*, customer: Customer, status: str | None = None) -> QuerySet[Order]:
    """The customer's orders with their lines, newest first."""
    orders = Order.objects.filter(customer=customer).prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id"))
    )
    if status:
        orders = orders.filter(status=status)
    return orders.order_by("-created_at", "-id")


def order_for_customer(*, customer: Customer, order_no: str) -> Order:
    """One of the customer's orders with lines and timeline; another customer's is not found."""
    if not ORDER_NO_PATTERN.fullmatch(order_no):
        raise OrderNotFound()  # before the database, which refuses some characters (NUL) with an error
    order = orders_for_customer(customer=customer).prefetch_related("events").filter(order_no=order_no).first()
    if order is None:
        raise OrderNotFound()
    return order
