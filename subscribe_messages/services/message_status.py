"""The one place a subscribe message's status changes: its transitions, each appended to its events."""

from config.status_machine import StatusActor, StatusMachine
from subscribe_messages.exceptions import SubscribeMessageTransitionNotAllowed
from subscribe_messages.models import SubscribeMessage, SubscribeMessageEvent, SubscribeMessageStatus

S = SubscribeMessageStatus

# Every move is the worker's (StatusActor.SYSTEM). Sent, not sent and unknown are final: nothing
# sends a message of that order and event again.
ALLOWED_TRANSITIONS = {
    (S.SENDING, S.SENT),
    (S.SENDING, S.NOT_SENT),
    (S.SENDING, S.RETRYING),
    (S.SENDING, S.UNKNOWN),
    (S.RETRYING, S.SENDING),
    (S.RETRYING, S.NOT_SENT),  # its template deleted while it waited
}

SUBSCRIBE_MESSAGE_STATUS = StatusMachine(
    model=SubscribeMessage,
    event_model=SubscribeMessageEvent,
    transitions=ALLOWED_TRANSITIONS,
    refused=SubscribeMessageTransitionNotAllowed,
)


def subscribe_message_status_set(*, message: SubscribeMessage, to_status: str, reason: str, fields: dict) -> None:
    """Move a message this transaction has locked; raises SubscribeMessageTransitionNotAllowed."""
    SUBSCRIBE_MESSAGE_STATUS.change(
        message, to_status=to_status, actor=StatusActor.SYSTEM, reason=reason[:300], fields=fields
    )


def subscribe_message_created_record(*, message: SubscribeMessage, reason: str) -> None:
    """The first event of a message just created (in its first status)."""
    SubscribeMessageEvent.objects.create(
        message=message, from_status="", to_status=message.status, actor=StatusActor.SYSTEM, reason=reason[:300]
    )
