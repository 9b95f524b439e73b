"""A subscribe message's status machine: sent, not sent and unknown are final, so nothing sends it again."""

import itertools

import pytest
from django.db import transaction

from config.status_machine import StatusActor
from subscribe_messages.exceptions import SubscribeMessageTransitionNotAllowed
from subscribe_messages.models import SubscribeMessage, SubscribeMessageStatus
from subscribe_messages.services.message_status import (
    ALLOWED_TRANSITIONS,
    SUBSCRIBE_MESSAGE_STATUS,
    subscribe_message_status_set,
)

S = SubscribeMessageStatus
REFUSED = sorted(set(itertools.permutations(S.values, 2)) - ALLOWED_TRANSITIONS)


@pytest.mark.parametrize("from_status, to_status", sorted(ALLOWED_TRANSITIONS))
def test_the_workers_moves_are_allowed(from_status, to_status):
    assert SUBSCRIBE_MESSAGE_STATUS.allows(from_status=from_status, to_status=to_status, actor=StatusActor.SYSTEM)


@pytest.mark.parametrize("from_status, to_status", REFUSED)
def test_every_other_move_is_refused(from_status, to_status):
    assert not SUBSCRIBE_MESSAGE_STATUS.allows(from_status=from_status, to_status=to_status, actor=StatusActor.SYSTEM)


@pytest.mark.django_db
def test_a_refused_move_changes_nothing_and_appends_no_event(place_order, sku):
    message = SubscribeMessage.objects.create(
        order=place_order([(sku, 1)]), event="paid", status=S.SENT, outcome="sent"
    )

    with pytest.raises(SubscribeMessageTransitionNotAllowed), transaction.atomic():
        subscribe_message_status_set(message=message, to_status=S.SENDING, reason="again", fields={})

    message.refresh_from_db()
    assert message.status == S.SENT and not message.events.exists()
