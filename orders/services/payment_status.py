"""The one place a payment's status changes: its allowed transitions, over the shared status machine."""

from django.db import transaction
from django.utils.translation import gettext as _

from config.status_machine import StatusActor, StatusMachine
from orders.exceptions import PaymentTransitionNotAllowed
from orders.models import Payment, PaymentEvent, PaymentStatus

P = PaymentStatus

# (from, to) for a payment's status; anything absent is refused. A failed prepay may still have
# reached WeChat and been paid there, so it can become paid, or be closed by the expiry task.
PAYMENT_TRANSITIONS = frozenset(
    {(P.PENDING, P.PAID), (P.FAILED, P.PAID), (P.PENDING, P.CLOSED), (P.FAILED, P.CLOSED), (P.PENDING, P.FAILED)}
)

PAYMENT_STATUS = StatusMachine(
    model=Payment,
    event_model=PaymentEvent,
    transitions=PAYMENT_TRANSITIONS,
    refused=PaymentTransitionNotAllowed,
)


def payment_started_record(*, payment: Payment) -> None:
    """The first event of a payment attempt the customer just started (asking to pay)."""
    PAYMENT_STATUS.record_creation(payment, actor=StatusActor.CUSTOMER, reason=_("prepay asked for"))


def payment_status_set(*, payment: Payment, to_status: str, actor: str, reason: str = "", **fields) -> None:
    """Change a payment the caller has locked in this transaction; `fields` are set alongside."""
    PAYMENT_STATUS.change(payment, to_status=to_status, actor=actor, reason=reason, fields=fields)


@transaction.atomic
def payment_status_change(
    *, payment_id: int, to_status: str, actor: str = StatusActor.PAYMENT, reason: str = ""
) -> bool:
    """Close or fail a payment under its lock; False when it is no longer in a state that allows it.

    Paid is not set here: only payment_paid_record pays, with the order and the sales count.
    """
    if to_status == P.PAID:
        raise ValueError("a payment becomes paid through payment_paid_record only")
    payment = PAYMENT_STATUS.lock(payment_id)
    if not PAYMENT_STATUS.allows(from_status=payment.status, to_status=to_status, actor=actor):
        return False
    payment_status_set(payment=payment, to_status=to_status, actor=actor, reason=reason)
    return True
