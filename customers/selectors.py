from django.utils import timezone

from customers.models import CustomerToken


def customer_token_find(*, token: str) -> CustomerToken | None:
    """The unexpired token row for a bearer token, with its customer, or None."""
    return (
        CustomerToken.objects.select_related("customer")
        .filter(key_digest=CustomerToken.digest(token), expires_at__gt=timezone.now())
        .first()
    )
