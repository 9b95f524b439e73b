"""The address book. Writes lock the customer's row, so two changes to one book never race on its default."""

from django.db import transaction

from customers.models import Customer
from orders.exceptions import AddressBookFull
from orders.models import Address

ADDRESS_BOOK_LIMIT = 20
REGION_FIELDS = ("province", "city", "district")


@transaction.atomic
def address_create(
    *, customer: Customer, recipient: str, phone: str, region: dict[str, str], detail: str, is_default: bool = False
) -> Address:
    """Add an address; the customer's first one, or one marked default, becomes the default."""
    _address_book_lock(customer=customer)
    existing = Address.objects.filter(customer=customer).count()
    if existing >= ADDRESS_BOOK_LIMIT:
        raise AddressBookFull()
    is_default = is_default or existing == 0
    if is_default:
        Address.objects.filter(customer=customer, is_default=True).update(is_default=False)
    return Address.objects.create(
        customer=customer,
        recipient=recipient,
        phone=phone,
        detail=detail,
        is_default=is_default,
        **{field: region[field] for field in REGION_FIELDS},
    )


@transaction.atomic
def address_update(*, address: Address, **changes) -> Address:
    """Change some of recipient, phone, region (any of its parts), detail and is_default."""
    _address_book_lock(customer=address.customer)
    region = changes.pop("region", {})
    changes.update({field: region[field] for field in REGION_FIELDS if field in region})
    if changes.get("is_default"):
        Address.objects.filter(customer=address.customer_id, is_default=True).exclude(pk=address.pk).update(
            is_default=False
        )
    for field, value in changes.items():
        setattr(address, field, value)
    address.save(update_fields=[*changes, "updated_at"])
    return address


@transaction.atomic
def address_delete(*, address: Address) -> None:
    """Delete an address; when it was the default, the newest remaining one takes its place."""
    _address_book_lock(customer=address.customer)
    address.delete()
    if address.is_default:
        newest = Address.objects.filter(customer=address.customer_id).order_by("-created_at", "-id").first()
        if newest is not None:
            newest.is_default = True
            newest.save(update_fields=["is_default", "updated_at"])


def _address_book_lock(*, customer: Customer) -> None:
    Customer.objects.select_for_update().values_list("pk", flat=True).get(pk=customer.pk)
