"""The one place a refund's status changes: its allowed transitions, over the shared status machine."""

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from config.status_machine import StatusActor, StatusMachine
from orders.exceptions import RefundTransitionNotAllowed
from orders.models import Refund, RefundEvent, RefundStatus

R = RefundStatus

ALLOWED_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        # WeChat accepted it; or its notification came before we stored that answer; or it refused it.
        (R.REQUESTED, R.PROCESSING),
        (R.REQUESTED, R.SUCCEEDED),
        (R.REQUESTED, R.FAILED),
        (R.PROCESSING, R.SUCCEEDED),
        (R.PROCESSING, R.FAILED),
    }
)
REFUND_FINAL_STATUSES = frozenset({R.SUCCEEDED, R.FAILED})


def _refund_entry_fields(to_status: str, reason: str) -> dict:
    return {"settled_at": timezone.now()} if to_status in REFUND_FINAL_STATUSES else {}


REFUND_STATUS = StatusMachine(
    model=Refund,
    event_model=RefundEvent,
    transitions=ALLOWED_TRANSITIONS,
    refused=RefundTransitionNotAllowed,
    entry_fields=_refund_entry_fields,
)


def refund_requested_record(*, refund: Refund, reason: str, staff_user: AbstractBaseUser | None) -> None:
    """The first event of a refund staff just asked for."""
    REFUND_STATUS.record_creation(refund, actor=StatusActor.STAFF, reason=reason, staff_user=staff_user)


def refund_status_set(*, refund: Refund, to_status: str, reason: str = "", extra_fields: dict | None = None) -> None:
    """Change a refund the caller has locked in this transaction, and append the event.

    After the request every change is WeChat Pay's answer (accepted, refunded, refused), so the payment service's.
    """
    REFUND_STATUS.change(refund, to_status=to_status, actor=StatusActor.PAYMENT, reason=reason, fields=extra_fields)
