"""The one place a push's status changes: allowed transitions as data, a row lock, an event row each time."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from articles.exceptions import PushTransitionNotAllowed
from articles.models import Push, PushEvent, PushStatus

S = PushStatus

ALLOWED_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (S.DRAFT, S.SCHEDULED),
        (S.SCHEDULED, S.CANCELLED),
        (S.SCHEDULED, S.SENDING),
        (S.SENDING, S.SENT),
        (S.SENDING, S.PARTLY_SENT),
        (S.SENDING, S.FAILED),
        # A retry: staff reschedule a push that failed.
        (S.FAILED, S.SCHEDULED),
    }
)


def push_transition_allowed(*, from_status: str, to_status: str) -> bool:
    return (from_status, to_status) in ALLOWED_TRANSITIONS


@transaction.atomic
def push_transition(
    *,
    push_id: int,
    to_status: str,
    reason: str = "",
    staff_user: AbstractBaseUser | None = None,
    extra_fields: dict | None = None,
) -> Push:
    """Move one push to `to_status` under a row lock, or raise PushTransitionNotAllowed."""
    push = Push.objects.select_for_update().get(pk=push_id)
    push_status_set(push=push, to_status=to_status, reason=reason, staff_user=staff_user, extra_fields=extra_fields)
    return push


def push_status_set(
    *,
    push: Push,
    to_status: str,
    reason: str = "",
    staff_user: AbstractBaseUser | None = None,
    extra_fields: dict | None = None,
) -> None:
    """Change a row the caller has locked in this transaction."""
    if not push_transition_allowed(from_status=push.status, to_status=to_status):
        raise PushTransitionNotAllowed(from_status=push.status, to_status=to_status)
    from_status = push.status
    push.status = to_status
    update_fields = ["status"]
    if to_status in (S.SENT, S.PARTLY_SENT):
        push.sent_at = timezone.now()
        update_fields.append("sent_at")
    if to_status == S.FAILED:
        push.failure_reason = reason[:300]
        update_fields.append("failure_reason")
    for name, value in (extra_fields or {}).items():
        setattr(push, name, value)
        update_fields.append(name)
    push.save(update_fields=update_fields)
    PushEvent.objects.create(
        push=push, from_status=from_status, to_status=to_status, reason=reason[:300], staff_user=staff_user
    )
