"""The one place a Mini Program code's status changes: staff ask, the worker draws it or says why not."""

from django.utils import timezone

from campaigns.exceptions import MiniProgramCodeTransitionNotAllowed
from campaigns.models import MiniProgramCode, MiniProgramCodeEvent
from config.status_machine import StatusActor, StatusMachine

S = MiniProgramCode.Status

ALLOWED_TRANSITIONS = {
    (S.QUEUED, S.READY): {StatusActor.SYSTEM},
    (S.QUEUED, S.FAILED): {StatusActor.SYSTEM},
    # Made again only when staff ask.
    (S.READY, S.QUEUED): {StatusActor.STAFF},
    (S.FAILED, S.QUEUED): {StatusActor.STAFF},
}
ERROR_MAX_LENGTH = MiniProgramCode._meta.get_field("error").max_length


def _entry_fields(to_status: str, reason: str) -> dict:
    if to_status == S.READY:
        return {"error": "", "generated_at": timezone.now()}
    if to_status == S.FAILED:
        return {"error": reason[:ERROR_MAX_LENGTH]}
    return {"error": ""}


MINI_PROGRAM_CODE_STATUS = StatusMachine(
    model=MiniProgramCode,
    event_model=MiniProgramCodeEvent,
    transitions=ALLOWED_TRANSITIONS,
    refused=MiniProgramCodeTransitionNotAllowed,
    entry_fields=_entry_fields,
)
