"""Reconciliation runs and discrepancies through their status service: every pair, allowed ones with one event.

Then the moves reconciliation makes itself: the abandoned-run sweep, a run's own end, the bulk
resolve of what a run no longer finds, and staff resolving one with their note.
"""

import itertools
from datetime import date, timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from config.status_machine import StatusActor
from orders.exceptions import DiscrepancyAlreadyResolved, ReconciliationRunTransitionNotAllowed
from orders.models import (
    Discrepancy,
    DiscrepancyEvent,
    DiscrepancyKind,
    DiscrepancyStatus,
    Payment,
    ReconciliationRun,
    ReconciliationRunEvent,
    ReconciliationRunStatus,
    ReconciliationTrigger,
)
from orders.services.reconciliation import reconciliation_run_from_lines
from orders.services.reconciliation_status import (
    DISCREPANCY_STATUS,
    DISCREPANCY_TRANSITIONS,
    RECONCILIATION_RUN_STATUS,
    RUN_ABANDONED_REASON,
    RUN_TRANSITIONS,
    discrepancies_resolve,
    discrepancy_resolve,
    reconciliation_run_finish,
)
from tests.orders.reconciliation_helpers import sample_day_record, sample_lines

pytestmark = pytest.mark.django_db

RUN, D = ReconciliationRunStatus, DiscrepancyStatus
SAMPLE_DATE = date(2026, 11, 22)

# Written out here, apart from the service's tables, so a change to a table must be made twice on purpose.
EXPECTED_RUN_TRANSITIONS = {
    (RUN.RUNNING, RUN.SUCCEEDED),
    (RUN.RUNNING, RUN.FAILED),
    (RUN.FAILED, RUN.SUCCEEDED),  # a run taken for abandoned that finishes after all
    (RUN.FAILED, RUN.FAILED),
}
EXPECTED_DISCREPANCY_TRANSITIONS = {(D.OPEN, D.RESOLVED)}


def run_in(status: str, *, bill_date: date = SAMPLE_DATE, started_at=None) -> ReconciliationRun:
    return ReconciliationRun.objects.create(
        bill_date=bill_date,
        status=status,
        triggered_by=ReconciliationTrigger.BEAT,
        started_at=started_at or timezone.now(),
        finished_at=None if status == RUN.RUNNING else timezone.now(),
    )


def discrepancy_in(status: str, *, run: ReconciliationRun | None = None, key: str = "amount_mismatch:T1:"):
    run = run or run_in(RUN.SUCCEEDED)
    return Discrepancy.objects.create(
        run=run,
        last_seen_run=run,
        bill_date=run.bill_date,
        kind=DiscrepancyKind.AMOUNT_MISMATCH,
        problem_key=key,
        out_trade_no=key.split(":")[1],
        detail="WeChat's bill has it at ¥39.90; our payment is ¥39.00.",
        status=status,
        resolved_at=timezone.now() if status == D.RESOLVED else None,
    )


def test_the_tables_are_the_ones_written_here():
    assert set(RUN_TRANSITIONS) == EXPECTED_RUN_TRANSITIONS
    assert set(DISCREPANCY_TRANSITIONS) == EXPECTED_DISCREPANCY_TRANSITIONS


@pytest.mark.parametrize(("from_status", "to_status"), sorted(itertools.product(RUN.values, repeat=2)))
def test_every_run_pair_is_changed_with_one_event_or_refused_with_none(from_status, to_status):
    run = run_in(from_status)

    if (from_status, to_status) in EXPECTED_RUN_TRANSITIONS:
        RECONCILIATION_RUN_STATUS.transition(pk=run.pk, to_status=to_status, actor=StatusActor.SYSTEM, reason="why")
    else:
        with pytest.raises(ReconciliationRunTransitionNotAllowed) as refused:
            RECONCILIATION_RUN_STATUS.transition(pk=run.pk, to_status=to_status, actor=StatusActor.SYSTEM)
        assert (refused.value.from_status, refused.value.to_status) == (from_status, to_status)

    run.refresh_from_db()
    events = list(run.events.values_list("from_status", "to_status", "actor", "reason"))
    if (from_status, to_status) in EXPECTED_RUN_TRANSITIONS:
        assert run.status == to_status and run.finished_at is not None
        assert run.error_message == ("why" if to_status == RUN.FAILED else "")
        assert events == [(from_status, to_status, StatusActor.SYSTEM, "why")]
    else:
        assert run.status == from_status
        assert events == []


@pytest.mark.parametrize(("from_status", "to_status"), sorted(itertools.product(D.values, repeat=2)))
def test_every_discrepancy_pair_is_changed_with_one_event_or_refused_with_none(admin_user, from_status, to_status):
    discrepancy = discrepancy_in(from_status)

    if (from_status, to_status) in EXPECTED_DISCREPANCY_TRANSITIONS:
        DISCREPANCY_STATUS.transition(
            pk=discrepancy.pk, to_status=to_status, actor=StatusActor.STAFF, reason="Checked.", staff_user=admin_user
        )
    else:
        with pytest.raises(DiscrepancyAlreadyResolved) as refused:
            DISCREPANCY_STATUS.transition(pk=discrepancy.pk, to_status=to_status, actor=StatusActor.STAFF)
        assert (refused.value.from_status, refused.value.to_status) == (from_status, to_status)
        assert refused.value.status_code == 409 and refused.value.code == "discrepancy_resolved"

    discrepancy.refresh_from_db()
    events = list(discrepancy.events.values_list("from_status", "to_status", "actor", "staff_user", "reason"))
    if (from_status, to_status) in EXPECTED_DISCREPANCY_TRANSITIONS:
        assert (discrepancy.status, discrepancy.resolution_note) == (to_status, "Checked.")
        assert discrepancy.resolved_at is not None
        assert events == [(from_status, to_status, StatusActor.STAFF, admin_user.pk, "Checked.")]
    else:
        assert discrepancy.status == from_status
        assert events == []


def test_staff_resolving_is_recorded_as_staff_with_the_user_and_the_note(admin_user):
    discrepancy = discrepancy_in(D.OPEN)
    note = "Customer paid the difference in cash. " * 20  # longer than an event keeps

    resolved = discrepancy_resolve(discrepancy_id=discrepancy.pk, staff_user=admin_user, note=note)

    assert (resolved.status, resolved.resolved_by, resolved.resolution_note) == (D.RESOLVED, admin_user, note)
    [event] = DiscrepancyEvent.objects.filter(discrepancy=discrepancy)
    assert (event.from_status, event.to_status, event.actor, event.staff_user) == (
        D.OPEN,
        D.RESOLVED,
        StatusActor.STAFF,
        admin_user,
    )
    assert event.reason == note[:300]
    with pytest.raises(DiscrepancyAlreadyResolved):
        discrepancy_resolve(discrepancy_id=discrepancy.pk, staff_user=admin_user, note="Again.")
    assert DiscrepancyEvent.objects.filter(discrepancy=discrepancy).count() == 1


def test_the_bulk_resolve_writes_one_event_per_row_and_leaves_resolved_ones_alone():
    run = run_in(RUN.SUCCEEDED)
    open_ones = [discrepancy_in(D.OPEN, run=run, key=f"amount_mismatch:T{number}:") for number in range(3)]
    settled = discrepancy_in(D.RESOLVED, run=run, key="amount_mismatch:T9:")

    resolved = discrepancies_resolve(discrepancies=Discrepancy.objects.filter(run=run), note="No longer found.")

    assert resolved == 3
    for discrepancy in open_ones:
        discrepancy.refresh_from_db()
        assert (discrepancy.status, discrepancy.resolution_note, discrepancy.resolved_by) == (
            D.RESOLVED,
            "No longer found.",
            None,
        )
        assert list(discrepancy.events.values_list("from_status", "to_status", "actor", "staff_user", "reason")) == [
            (D.OPEN, D.RESOLVED, StatusActor.SYSTEM, None, "No longer found.")
        ]
    settled.refresh_from_db()
    assert settled.resolution_note == "" and not settled.events.exists()


def test_a_later_run_resolves_what_it_no_longer_finds_through_the_helper(wechat_sample):
    sample_day_record()
    payment = Payment.objects.filter(out_trade_no="20261122091458000001")
    payment.update(amount_fen=3900)
    first = reconciliation_run_from_lines(
        bill_date=SAMPLE_DATE, lines=sample_lines(wechat_sample), triggered_by=ReconciliationTrigger.COMMAND
    )
    payment.update(amount_fen=3990)  # put right by hand

    second = reconciliation_run_from_lines(
        bill_date=SAMPLE_DATE, lines=sample_lines(wechat_sample), triggered_by=ReconciliationTrigger.COMMAND
    )

    [discrepancy] = Discrepancy.objects.filter(run=first)
    assert list(discrepancy.events.values_list("from_status", "to_status", "actor", "reason")) == [
        (D.OPEN, D.RESOLVED, StatusActor.SYSTEM, f"No longer found by reconciliation run #{second.pk}.")
    ]
    for run in (first, second):
        assert list(run.events.values_list("from_status", "to_status", "actor")) == [
            (RUN.RUNNING, RUN.SUCCEEDED, StatusActor.SYSTEM)
        ]


def test_the_abandoned_run_sweep_fails_each_old_running_run_through_the_helper(wechat_sample):
    old = run_in(RUN.RUNNING, started_at=timezone.now() - timedelta(hours=3))
    another_date = run_in(RUN.RUNNING, bill_date=SAMPLE_DATE + timedelta(days=1), started_at=old.started_at)

    run = reconciliation_run_from_lines(
        bill_date=SAMPLE_DATE, lines=sample_lines(wechat_sample), triggered_by=ReconciliationTrigger.COMMAND
    )

    old.refresh_from_db()
    assert (old.status, old.error_message, old.error_transient) == (RUN.FAILED, RUN_ABANDONED_REASON, False)
    assert old.finished_at is not None
    assert list(old.events.values_list("from_status", "to_status", "actor", "staff_user", "reason")) == [
        (RUN.RUNNING, RUN.FAILED, StatusActor.SYSTEM, None, RUN_ABANDONED_REASON)
    ]
    another_date.refresh_from_db()
    assert another_date.status == RUN.RUNNING and not another_date.events.exists()
    assert run.status == RUN.SUCCEEDED


def test_a_run_taken_for_abandoned_that_finishes_after_all_records_how_it_ended():
    run = run_in(RUN.RUNNING)
    RECONCILIATION_RUN_STATUS.transition(
        pk=run.pk, to_status=RUN.FAILED, actor=StatusActor.SYSTEM, reason=RUN_ABANDONED_REASON
    )

    reconciliation_run_finish(run=run, to_status=RUN.SUCCEEDED, fields={"matched_count": 4})

    run.refresh_from_db()
    assert (run.status, run.matched_count, run.error_message) == (RUN.SUCCEEDED, 4, "")
    assert list(run.events.values_list("from_status", "to_status")) == [
        (RUN.RUNNING, RUN.FAILED),
        (RUN.FAILED, RUN.SUCCEEDED),
    ]


def test_a_failed_run_says_why_in_its_event(wechat_sample):
    run = reconciliation_run_from_lines(
        bill_date=SAMPLE_DATE, lines=["not a bill"], triggered_by=ReconciliationTrigger.COMMAND
    )

    run.refresh_from_db()
    assert run.status == RUN.FAILED
    [event] = ReconciliationRunEvent.objects.filter(run=run)
    assert (event.from_status, event.to_status, event.actor) == (RUN.RUNNING, RUN.FAILED, StatusActor.SYSTEM)
    assert event.reason and event.reason == run.error_message[:300]


def test_operations_read_the_run_and_discrepancy_timelines(client, django_user_model, admin_user):
    operator = django_user_model.objects.create_user(username="operations", is_staff=True)
    operator.groups.add(Group.objects.get(name="Operations"))
    run = run_in(RUN.RUNNING)
    with transaction.atomic():
        RECONCILIATION_RUN_STATUS.change_many(
            RECONCILIATION_RUN_STATUS.lock_many(ReconciliationRun.objects.filter(pk=run.pk)),
            to_status=RUN.FAILED,
            actor=StatusActor.SYSTEM,
            reason=RUN_ABANDONED_REASON,
        )
    discrepancy = discrepancy_in(D.OPEN, run=run)
    discrepancy_resolve(discrepancy_id=discrepancy.pk, staff_user=admin_user, note="WeChat corrected the bill.")
    client.force_login(operator)

    run_page = client.get(reverse("admin:orders_reconciliationrun_change", args=[run.pk])).content.decode()
    discrepancy_page = client.get(reverse("admin:orders_discrepancy_change", args=[discrepancy.pk])).content.decode()

    assert "timeline" in run_page.lower() and str(RUN_ABANDONED_REASON) in run_page
    assert "timeline" in discrepancy_page.lower() and "WeChat corrected the bill." in discrepancy_page
    assert 'name="events-0-reason"' not in run_page + discrepancy_page  # shown, not editable
