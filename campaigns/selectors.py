"""Reads of campaigns shared by other apps."""

from campaigns.models import Campaign


def campaign_id_for_code(*, code: str) -> int | None:
    """The id of our campaign with `code`, or None: none has it (or no code), which is no error."""
    if not code:
        return None
    return Campaign.objects.filter(code=code).values_list("pk", flat=True).first()
