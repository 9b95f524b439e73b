"""The one place a refund's status changes: allowed transitions as data, on a locked row, an event each time."""

from django.utils import timezone

from orders.models import Refund, RefundEvent, RefundStatus

R = RefundStatus

# from -> the statuses it may become. Anything absent is refused.
REFUND_ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    # WeChat accepted it; or its notification came before we stored that answer; or it refused it.
    R.REQUESTED: frozenset({R.PROCESSING, R.SUCCEEDED, R.FAILED}),
    R.PROCESSING: frozenset({R.SUCCEEDED, R.FAILED}),
}
REFUND_FINAL_STATUSES = frozenset({R.SUCCEEDED, R.FAILED})


class RefundTransitionNotAllowed(Exception):
    """A bug, not a user error: callers check the refund's status under its lock before asking for a change."""


def refund_transition_allowed(*, from_status: str, to_status: str) -> bool:
    return to_status in REFUND_ALLOWED_TRANSITIONS.get(from_status, frozenset())


def refund_status_set(*, refund: Refund, to_status: str, reason: str = "", extra_fields: dict | None = None) -> None:
    """Change a refund the caller has locked in this transaction, and append the event."""
    if not refund_transition_allowed(from_status=refund.status, to_status=to_status):
        raise RefundTransitionNotAllowed(f"a {refund.status} refund cannot become {to_status}")
    from_status = refund.status
    refund.status = to_status
    update_fields = ["status"]
    if to_status in REFUND_FINAL_STATUSES:
        refund.settled_at = timezone.now()
        update_fields.append("settled_at")
    for name, value in (extra_fields or {}).items():
        setattr(refund, name, value)
        update_fields.append(name)
    refund.save(update_fields=update_fields)
    RefundEvent.objects.create(refund=refund, from_status=from_status, to_status=to_status, reason=reason[:200])
