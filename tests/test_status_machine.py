"""The status-machine helper every status service builds on: the table, the lock, the check, the save, the event.

Exercised on machines of their own over the push tables, so the helper's rules are tested apart
from any one service's table; each status service tests its own table.
"""

import pytest
from django.db import DatabaseError, transaction
from django.utils import timezone

from articles.exceptions import FollowerSyncRunTransitionNotAllowed, PushTransitionNotAllowed
from articles.models import Push, PushEvent, PushStatus
from config.errors import ApplicationError
from config.status_machine import StatusActor, StatusMachine, StatusTransitionNotAllowed
from orders.exceptions import (
    DiscrepancyAlreadyResolved,
    OrderTransitionNotAllowed,
    PaymentTransitionNotAllowed,
    ReconciliationRunTransitionNotAllowed,
    RefundTransitionNotAllowed,
)
from tests.factories import PushFactory

S, A = PushStatus, StatusActor


class MoveRefused(StatusTransitionNotAllowed):
    code = "move_refused"


def _sent_at_on_entry(to_status: str, reason: str) -> dict:
    return {"sent_at": timezone.now()} if to_status == S.SENT else {}


# Each move for some actors only.
BY_ACTOR = StatusMachine(
    model=Push,
    event_model=PushEvent,
    transitions={(S.SENDING, S.SENT): {A.SYSTEM}, (S.SENDING, S.CANCELLED): {A.STAFF, A.CUSTOMER}},
    refused=MoveRefused,
    entry_fields=_sent_at_on_entry,
)
# Moves any actor may make.
BY_ANYONE = StatusMachine(
    model=Push,
    event_model=PushEvent,
    transitions={(S.SENDING, S.FAILED), (S.FAILED, S.CANCELLED)},
    refused=MoveRefused,
)

ALLOWED_BY_ACTOR = [
    (S.SENDING, S.SENT, A.SYSTEM),
    (S.SENDING, S.CANCELLED, A.STAFF),
    (S.SENDING, S.CANCELLED, A.CUSTOMER),
]
REFUSED_BY_ACTOR = [
    (S.SENDING, S.SENT, A.STAFF),  # the move exists, not for this actor
    (S.SENDING, S.CANCELLED, A.SYSTEM),
    (S.SENDING, S.FAILED, A.SYSTEM),  # not in the table at all
    (S.SENT, S.SENDING, A.SYSTEM),
    (S.SENT, S.SENT, A.SYSTEM),  # staying put is not a move
]


def push_in(status: str) -> Push:
    return PushFactory(status=status)


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status", "actor"), ALLOWED_BY_ACTOR)
def test_an_allowed_move_saves_the_status_and_appends_one_event(admin_user, from_status, to_status, actor):
    push = push_in(from_status)

    changed = BY_ACTOR.transition(pk=push.pk, to_status=to_status, actor=actor, reason="because", staff_user=admin_user)

    assert changed.status == to_status
    assert Push.objects.get(pk=push.pk).status == to_status
    [event] = PushEvent.objects.filter(push=push)
    assert (event.from_status, event.to_status, event.actor, event.staff_user, event.reason) == (
        from_status,
        to_status,
        actor,
        admin_user,
        "because",
    )
    assert event.at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(("from_status", "to_status", "actor"), REFUSED_BY_ACTOR)
def test_a_refused_move_raises_one_error_with_from_and_to_and_changes_nothing(from_status, to_status, actor):
    push = push_in(from_status)

    with pytest.raises(MoveRefused) as refused:
        BY_ACTOR.transition(pk=push.pk, to_status=to_status, actor=actor)

    assert (refused.value.from_status, refused.value.to_status, refused.value.actor) == (from_status, to_status, actor)
    assert isinstance(refused.value, ApplicationError) and refused.value.status_code == 409
    assert refused.value.code == "move_refused"
    assert Push.objects.get(pk=push.pk).status == from_status
    assert not PushEvent.objects.filter(push=push).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("actor", A.values)
def test_a_table_of_pairs_lets_any_actor_make_its_moves(actor):
    push = push_in(S.SENDING)

    BY_ANYONE.transition(pk=push.pk, to_status=S.FAILED, actor=actor)
    BY_ANYONE.transition(pk=push.pk, to_status=S.CANCELLED, actor=actor)

    assert list(PushEvent.objects.filter(push=push).values_list("from_status", "to_status", "actor")) == [
        (S.SENDING, S.FAILED, actor),
        (S.FAILED, S.CANCELLED, actor),
    ]
    with pytest.raises(MoveRefused):
        BY_ANYONE.transition(pk=push.pk, to_status=S.SENDING, actor=actor)


@pytest.mark.django_db
def test_entry_fields_and_the_callers_fields_are_saved_with_the_status():
    push = push_in(S.SENDING)

    with transaction.atomic():
        locked = BY_ACTOR.lock(push.pk)
        BY_ACTOR.change(locked, to_status=S.SENT, actor=A.SYSTEM, fields={"publish_id": "2247483650"})

    push.refresh_from_db()
    assert (push.status, push.publish_id) == (S.SENT, "2247483650")
    assert push.sent_at is not None


@pytest.mark.django_db
def test_a_row_gone_before_its_change_raises_and_appends_no_event():
    # On PostgreSQL the update and its event are one statement: like save(), it must notice no row changed.
    push = push_in(S.SENDING)
    Push.objects.filter(pk=push.pk).delete()

    with pytest.raises(DatabaseError), transaction.atomic():
        BY_ACTOR.change(push, to_status=S.SENT, actor=A.SYSTEM)

    assert not PushEvent.objects.filter(push_id=push.pk).exists()


@pytest.mark.django_db
def test_the_event_comes_back_saved_with_its_id_and_time():
    push = push_in(S.SENDING)

    with transaction.atomic():
        BY_ACTOR.change(BY_ACTOR.lock(push.pk), to_status=S.SENT, actor=A.SYSTEM, reason="sent")

    event = PushEvent.objects.get(push=push)
    assert (event.from_status, event.to_status, event.actor, event.reason) == (S.SENDING, S.SENT, A.SYSTEM, "sent")
    assert event.at is not None


@pytest.mark.django_db
def test_a_reason_longer_than_the_event_keeps_is_cut_to_fit():
    push = push_in(S.SENDING)

    BY_ACTOR.transition(pk=push.pk, to_status=S.CANCELLED, actor=A.STAFF, reason="x" * 500)

    assert PushEvent.objects.get(push=push).reason == "x" * 300


@pytest.mark.django_db
def test_the_bulk_form_checks_every_row_and_writes_every_event():
    pushes = [push_in(S.SENDING) for _ in range(3)]

    with transaction.atomic():
        locked = BY_ACTOR.lock_many(Push.objects.filter(pk__in=[push.pk for push in pushes]))
        BY_ACTOR.change_many(locked, to_status=S.SENT, actor=A.SYSTEM, reason="all sent")

    assert {row.status for row in locked} == {S.SENT}
    for push in pushes:
        push.refresh_from_db()
        assert push.status == S.SENT and push.sent_at is not None
        [event] = PushEvent.objects.filter(push=push)
        assert (event.from_status, event.to_status, event.actor, event.reason) == (
            S.SENDING,
            S.SENT,
            A.SYSTEM,
            "all sent",
        )


@pytest.mark.django_db
def test_one_refused_row_refuses_the_whole_bulk_change():
    pushes = [push_in(S.SENDING), push_in(S.CANCELLED), push_in(S.SENDING)]

    with pytest.raises(MoveRefused) as refused, transaction.atomic():
        locked = BY_ACTOR.lock_many(Push.objects.filter(pk__in=[push.pk for push in pushes]).order_by("id"))
        BY_ACTOR.change_many(locked, to_status=S.SENT, actor=A.SYSTEM)

    assert (refused.value.from_status, refused.value.to_status) == (S.CANCELLED, S.SENT)
    assert [Push.objects.get(pk=push.pk).status for push in pushes] == [S.SENDING, S.CANCELLED, S.SENDING]
    assert not PushEvent.objects.exists()


@pytest.mark.django_db
def test_a_new_rows_first_event_comes_from_no_status(admin_user):
    push = push_in(S.SENDING)

    BY_ACTOR.record_creation(push, actor=A.STAFF, reason="opened", staff_user=admin_user)

    event = PushEvent.objects.get(push=push)
    assert (event.from_status, event.to_status, event.actor, event.staff_user, event.reason) == (
        "",
        S.SENDING,
        A.STAFF,
        admin_user,
        "opened",
    )


@pytest.mark.django_db(transaction=True)
def test_a_change_outside_a_transaction_is_a_bug_that_fails_loudly():
    push = push_in(S.SENDING)

    with pytest.raises(RuntimeError, match="transaction"):
        BY_ACTOR.change(push, to_status=S.CANCELLED, actor=A.STAFF)
    with pytest.raises(RuntimeError, match="transaction"):
        BY_ACTOR.lock(push.pk)

    assert Push.objects.get(pk=push.pk).status == S.SENDING
    assert not PushEvent.objects.exists()


@pytest.mark.parametrize(
    "refused",
    [
        PushTransitionNotAllowed,
        OrderTransitionNotAllowed,
        PaymentTransitionNotAllowed,
        RefundTransitionNotAllowed,
        ReconciliationRunTransitionNotAllowed,
        DiscrepancyAlreadyResolved,
        FollowerSyncRunTransitionNotAllowed,
    ],
)
def test_every_apps_refusal_is_the_one_domain_error(refused):
    error = refused(from_status="a", to_status="b", actor="system")

    assert isinstance(error, StatusTransitionNotAllowed)
    assert (error.from_status, error.to_status, error.actor, error.status_code) == ("a", "b", "system", 409)
