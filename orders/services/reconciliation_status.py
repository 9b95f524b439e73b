"""The one place a reconciliation run's and a discrepancy's status change: their transitions, over the shared machine.

A run is reconciliation's own doing, started by beat, a command or staff alike, so every run event
is the system's. A discrepancy is resolved by staff (their user, their note as the reason) or by
reconciliation itself (repaired, or no longer found), and resolving is final.
"""

from datetime import date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.status_machine import StatusActor, StatusMachine
from orders.exceptions import DiscrepancyAlreadyResolved, ReconciliationRunTransitionNotAllowed
from orders.models import (
    Discrepancy,
    DiscrepancyEvent,
    DiscrepancyStatus,
    ReconciliationRun,
    ReconciliationRunEvent,
    ReconciliationRunStatus,
)

RUN, D = ReconciliationRunStatus, DiscrepancyStatus

RUN_TRANSITIONS: frozenset[tuple[str, str]] = frozenset(
    {
        (RUN.RUNNING, RUN.SUCCEEDED),
        (RUN.RUNNING, RUN.FAILED),
        # A run that outlasted RUN_ABANDONED_AFTER is failed as abandoned by the date's next start;
        # if it was alive after all, what it found is real, so how it really ended replaces the guess.
        (RUN.FAILED, RUN.SUCCEEDED),
        (RUN.FAILED, RUN.FAILED),
    }
)
DISCREPANCY_TRANSITIONS: frozenset[tuple[str, str]] = frozenset({(D.OPEN, D.RESOLVED)})
RUN_ABANDONED_REASON = gettext_lazy("Abandoned: it did not finish in time.")
ERROR_MESSAGE_MAX_LENGTH = 2000


def _run_entry_fields(to_status: str, reason: str) -> dict:
    # Every move ends the run; only a failed one keeps an error (the reason it failed).
    error_message = reason[:ERROR_MESSAGE_MAX_LENGTH] if to_status == RUN.FAILED else ""
    return {"finished_at": timezone.now(), "error_message": error_message}


def _discrepancy_entry_fields(to_status: str, reason: str) -> dict:
    # The event keeps the note cut to its length; the discrepancy keeps all of it.
    return {"resolved_at": timezone.now(), "resolution_note": reason} if to_status == D.RESOLVED else {}


RECONCILIATION_RUN_STATUS = StatusMachine(
    model=ReconciliationRun,
    event_model=ReconciliationRunEvent,
    transitions=RUN_TRANSITIONS,
    refused=ReconciliationRunTransitionNotAllowed,
    entry_fields=_run_entry_fields,
)
DISCREPANCY_STATUS = StatusMachine(
    model=Discrepancy,
    event_model=DiscrepancyEvent,
    transitions=DISCREPANCY_TRANSITIONS,
    refused=DiscrepancyAlreadyResolved,
    entry_fields=_discrepancy_entry_fields,
)


@transaction.atomic
def reconciliation_runs_abandoned_fail(*, bill_date: date, started_before: datetime, mch_id: str | None = None) -> int:
    """Fail the date's runs (of merchant `mch_id`, or all) running since before `started_before`: they died with
    their worker. Returns how many."""
    runs = ReconciliationRun.objects.filter(bill_date=bill_date, status=RUN.RUNNING, started_at__lt=started_before)
    # Runs from before they named their merchant ("") are swept by any merchant's start.
    runs = RECONCILIATION_RUN_STATUS.lock_many(runs if mch_id is None else runs.filter(mch_id__in=[mch_id, ""]))
    RECONCILIATION_RUN_STATUS.change_many(
        runs, to_status=RUN.FAILED, actor=StatusActor.SYSTEM, reason=str(RUN_ABANDONED_REASON)
    )
    return len(runs)


@transaction.atomic
def reconciliation_run_finish(*, run: ReconciliationRun, to_status: str, reason: str = "", fields: dict) -> None:
    """End `run` as `to_status` (failed: `reason` is its error), saving `fields` (what it found) with it.

    The run's status is read again under its lock: the date's next start may have failed it as
    abandoned meanwhile, and the table says what may follow that.
    """
    run.status = RECONCILIATION_RUN_STATUS.lock(run.pk).status
    RECONCILIATION_RUN_STATUS.change(run, to_status=to_status, actor=StatusActor.SYSTEM, reason=reason, fields=fields)


def discrepancy_resolve(*, discrepancy_id: int, staff_user: AbstractBaseUser, note: str) -> Discrepancy:
    """Staff settle one discrepancy with a note; a resolved one is refused (DiscrepancyAlreadyResolved)."""
    return DISCREPANCY_STATUS.transition(
        pk=discrepancy_id,
        to_status=D.RESOLVED,
        actor=StatusActor.STAFF,
        reason=note,
        staff_user=staff_user,
        fields={"resolved_by": staff_user},
    )


@transaction.atomic
def discrepancies_resolve(*, discrepancies: QuerySet, note: str) -> int:
    """Reconciliation settles these itself (no longer found, or paid meanwhile): the open ones; returns how many."""
    open_ones = DISCREPANCY_STATUS.lock_many(discrepancies.filter(status=D.OPEN))
    DISCREPANCY_STATUS.change_many(open_ones, to_status=D.RESOLVED, actor=StatusActor.SYSTEM, reason=note)
    return len(open_ones)


@transaction.atomic
def discrepancy_repaired_resolve(*, discrepancy_id: int, repair_note: str) -> bool:
    """Reconciliation repaired it (`repair_note` says how); False if it was no longer open."""
    discrepancy = DISCREPANCY_STATUS.lock(discrepancy_id)
    if not DISCREPANCY_STATUS.allows(from_status=discrepancy.status, to_status=D.RESOLVED, actor=StatusActor.SYSTEM):
        return False
    DISCREPANCY_STATUS.change(
        discrepancy,
        to_status=D.RESOLVED,
        actor=StatusActor.SYSTEM,
        reason=_("Repaired automatically."),
        fields={"repaired": True, "repair_note": repair_note},
    )
    return True
