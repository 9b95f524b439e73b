"""The one place a push's status changes: its allowed transitions, over the shared status machine."""

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from articles.exceptions import PushTransitionNotAllowed
from articles.models import Push, PushEvent, PushStatus
from config.status_machine import StatusActor, StatusMachine

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


def _push_entry_fields(to_status: str, reason: str) -> dict:
    if to_status in (S.SENT, S.PARTLY_SENT):
        return {"sent_at": timezone.now()}
    if to_status == S.FAILED:
        return {"failure_reason": reason[:300]}
    return {}


PUSH_STATUS = StatusMachine(
    model=Push,
    event_model=PushEvent,
    transitions=ALLOWED_TRANSITIONS,
    refused=PushTransitionNotAllowed,
    entry_fields=_push_entry_fields,
)


def push_transition_allowed(*, from_status: str, to_status: str) -> bool:
    """Whether staff may make the move (they schedule, retry and cancel)."""
    return PUSH_STATUS.allows(from_status=from_status, to_status=to_status, actor=StatusActor.STAFF)


def push_transition(
    *,
    push_id: int,
    to_status: str,
    reason: str = "",
    staff_user: AbstractBaseUser | None = None,
    extra_fields: dict | None = None,
) -> Push:
    """Move one push to `to_status` under a row lock, or raise PushTransitionNotAllowed."""
    return PUSH_STATUS.transition(
        pk=push_id,
        to_status=to_status,
        actor=_actor(staff_user),
        reason=reason,
        staff_user=staff_user,
        fields=extra_fields,
    )


def push_status_set(
    *,
    push: Push,
    to_status: str,
    reason: str = "",
    staff_user: AbstractBaseUser | None = None,
    extra_fields: dict | None = None,
) -> None:
    """Change a row the caller has locked in this transaction."""
    PUSH_STATUS.change(
        push, to_status=to_status, actor=_actor(staff_user), reason=reason, staff_user=staff_user, fields=extra_fields
    )


def _actor(staff_user: AbstractBaseUser | None) -> str:
    # Staff schedule, retry and cancel; beat, the send task and WeChat's events do the rest.
    return StatusActor.STAFF if staff_user is not None else StatusActor.SYSTEM
