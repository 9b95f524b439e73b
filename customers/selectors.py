from django.utils import timezone

from customers.models import Customer, CustomerToken
from wechat.merchants import mini_program_default
from wechat.models import MiniProgram


def customer_token_find(*, token: str) -> CustomerToken | None:
    """The unexpired token row for a bearer token, with its customer, or None."""
    return (
        CustomerToken.objects.select_related("customer")
        .filter(key_digest=CustomerToken.digest(token), expires_at__gt=timezone.now())
        .first()
    )


def customer_mini_program(*, customer: Customer) -> MiniProgram:
    """The Mini Program a customer logged in through, with its merchant; the settings' one for customers from before."""
    if customer.mini_program_id is None:
        return mini_program_default()
    return MiniProgram.objects.select_related("merchant").get(pk=customer.mini_program_id)
