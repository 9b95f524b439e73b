from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from catalog.models import Sku
from customers.models import Customer
from orders.exceptions import QuantityTooLarge, SkuUnavailable
from orders.models import MAX_LINE_QUANTITY, CartItem


@transaction.atomic
def cart_item_add(*, customer: Customer, sku_id: int, quantity: int) -> CartItem:
    """Put `quantity` of a SKU in the cart; a SKU already there gets its line increased."""
    if not Sku.objects.filter(pk=sku_id, is_active=True, product__is_active=True).exists():
        raise SkuUnavailable(sku_id=sku_id)
    line = CartItem.objects.select_for_update().filter(customer=customer, sku_id=sku_id).first()
    if line is None:
        try:
            # Two first adds of one SKU can race; the unique (customer, sku) decides and the loser adds to the line.
            with transaction.atomic():
                return CartItem.objects.create(customer=customer, sku_id=sku_id, quantity=quantity)
        except IntegrityError:
            line = CartItem.objects.select_for_update().get(customer=customer, sku_id=sku_id)
    if line.quantity + quantity > MAX_LINE_QUANTITY:
        raise QuantityTooLarge(limit=MAX_LINE_QUANTITY)
    line.quantity = F("quantity") + quantity
    line.updated_at = timezone.now()
    line.save(update_fields=["quantity", "updated_at"])
    line.refresh_from_db(fields=["quantity"])
    return line


def cart_item_update(*, cart_item: CartItem, quantity: int) -> CartItem:
    cart_item.quantity = quantity
    cart_item.save(update_fields=["quantity", "updated_at"])
    return cart_item


def cart_item_delete(*, cart_item: CartItem) -> None:
    cart_item.delete()
