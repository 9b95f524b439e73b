"""The one place a follower sync's status changes: its allowed transitions, over the shared status machine.

A sync is the system's doing (beat, or a task staff queued), so every event is the system's.
"""

from django.utils import timezone

from articles.exceptions import FollowerSyncRunTransitionNotAllowed
from articles.models import FollowerSyncRun, FollowerSyncRunEvent
from config.status_machine import StatusActor, StatusMachine

S = FollowerSyncRun.Status

ALLOWED_TRANSITIONS: frozenset[tuple[str, str]] = frozenset({(S.RUNNING, S.SUCCEEDED), (S.RUNNING, S.FAILED)})
ERROR_MAX_LENGTH = FollowerSyncRun._meta.get_field("error").max_length


def _sync_run_entry_fields(to_status: str, reason: str) -> dict:
    # Every move ends the sync; only a failed one keeps an error (the reason it failed).
    return {"finished_at": timezone.now(), "error": reason[:ERROR_MAX_LENGTH] if to_status == S.FAILED else ""}


FOLLOWER_SYNC_RUN_STATUS = StatusMachine(
    model=FollowerSyncRun,
    event_model=FollowerSyncRunEvent,
    transitions=ALLOWED_TRANSITIONS,
    refused=FollowerSyncRunTransitionNotAllowed,
    entry_fields=_sync_run_entry_fields,
)


def follower_sync_run_finish(*, run_id: int, to_status: str, reason: str = "", fields: dict) -> FollowerSyncRun:
    """End the sync as `to_status` (failed: `reason` is its error), saving `fields` (what it wrote) with it."""
    return FOLLOWER_SYNC_RUN_STATUS.transition(
        pk=run_id, to_status=to_status, actor=StatusActor.SYSTEM, reason=reason, fields=fields
    )
