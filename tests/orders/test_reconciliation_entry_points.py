"""Reconciliation's ways in: the 10:30 beat task on its own queue, through a real worker once, and the command."""

import re
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from celery.exceptions import Retry
from django.conf import settings
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from config.celery import app as celery_app
from orders.models import ReconciliationRun, ReconciliationRunStatus, ReconciliationTrigger
from orders.services.reconciliation import beijing_today
from orders.tasks import RECONCILIATION_MAX_RETRIES, reconcile_payments
from tests.orders.reconciliation_helpers import (
    advance_to,
    another_worker_reconciling,
    bill_ready,
    next_morning,
    paid_at_wechat,
    sandbox_now,
)


@pytest.mark.django_db
def test_yesterday_is_reconciled_at_half_past_ten_beijing_time_on_the_reconciliation_queue():
    task = PeriodicTask.objects.get(task="orders.tasks.reconcile_payments")

    assert task.enabled and task.queue == "reconciliation" and task.interval is None
    schedule = task.crontab
    assert (schedule.minute, schedule.hour, schedule.day_of_week, schedule.day_of_month, schedule.month_of_year) == (
        "30",
        "10",
        "*",
        "*",
        "*",
    )
    assert str(schedule.timezone) == "Asia/Shanghai"


def test_the_task_is_routed_to_the_reconciliation_queue():
    assert celery_app.amqp.router.route({}, reconcile_payments.name)["queue"].name == "reconciliation"


def test_the_demo_worker_consumes_every_routed_queue():
    procfile = (Path(settings.BASE_DIR) / "Procfile.demo").read_text()
    worker = next(line for line in procfile.splitlines() if line.startswith("worker:"))
    consumed = set(re.search(r"--queues (\S+)", worker).group(1).split(","))

    # Tests give some queues a per-run name (the session's queue as prefix): those are not the demo's.
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert {queue for queue in routed if not queue.startswith(settings.CELERY_TASK_DEFAULT_QUEUE)} <= consumed
    assert "reconciliation" in consumed


@pytest.mark.django_db
def test_without_a_date_the_task_reconciles_yesterday_in_beijing(sandbox):
    try:
        reconcile_payments()
    except Retry:
        pass  # before 10:00 Beijing time yesterday's bill is still being made

    [run] = ReconciliationRun.objects.all()
    assert run.bill_date == beijing_today() - timedelta(days=1)
    assert run.triggered_by == ReconciliationTrigger.BEAT


@pytest.mark.django_db
def test_a_bill_still_being_made_is_retried_for_the_same_date_up_to_a_cap(sandbox, sku, place_order):
    day = sandbox_now(sandbox).date()
    paid_at_wechat(sandbox, place_order([(sku, 1)]))
    if sandbox_now(sandbox).date() != day:
        pytest.skip("the Beijing day changed while the bill's trades were made")
    advance_to(sandbox, next_morning(day, hour=9, minute=30))

    # Run eagerly, each retry follows at once rather than half an hour later.
    gave_up = reconcile_payments.apply(kwargs={"bill_date": day.isoformat()})

    assert gave_up.failed()
    runs = ReconciliationRun.objects.all()
    assert len(runs) == RECONCILIATION_MAX_RETRIES + 1
    assert {(run.bill_date, run.status, run.error_transient) for run in runs} == {(day, "failed", True)}
    advance_to(sandbox, next_morning(day))
    run = ReconciliationRun.objects.get(pk=reconcile_payments.apply(kwargs={"bill_date": day.isoformat()}).get())
    assert (run.status, run.matched_count, run.discrepancy_count) == ("succeeded", 1, 0)


@pytest.mark.django_db
def test_a_date_being_reconciled_is_left_to_that_run(sandbox, settings):
    day = beijing_today() - timedelta(days=2)
    running = ReconciliationRun.objects.create(
        bill_date=day,
        triggered_by=ReconciliationTrigger.COMMAND,
        started_at=sandbox_now(sandbox),
        mch_id=settings.WECHAT_PAY_MCH_ID,
    )

    with another_worker_reconciling(day, running.mch_id):  # that run's worker is alive
        assert reconcile_payments(bill_date=day.isoformat()) is None
    assert list(ReconciliationRun.objects.all()) == [running]


def _finished_runs(name: str) -> int:
    log = (settings.VAR_DIR / "test-celery-worker.log").read_text()
    return sum(1 for line in log.splitlines() if f"Task {name}[" in line and "succeeded" in line)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_reconciles_a_day(celery_worker, sandbox, sku, place_order):
    day = sandbox_now(sandbox).date()
    payment = paid_at_wechat(sandbox, place_order([(sku, 1)]))
    bill_ready(sandbox, day)
    finished_before = _finished_runs(reconcile_payments.name)

    # The test worker consumes this run's own queue, not `reconciliation`, so the message goes there.
    reconcile_payments.apply_async(kwargs={"bill_date": day.isoformat()}, queue=settings.CELERY_TASK_DEFAULT_QUEUE)

    deadline = time.monotonic() + 60
    while _finished_runs(reconcile_payments.name) <= finished_before and time.monotonic() < deadline:
        time.sleep(0.2)
    run = ReconciliationRun.objects.get(bill_date=day)
    assert run.status == ReconciliationRunStatus.SUCCEEDED, run.error_message
    assert (run.payment_rows, run.matched_count, run.discrepancy_count) == (1, 1, 0)
    assert run.summary_settlement_fen == payment.amount_fen


@pytest.mark.django_db
def test_the_command_reconciles_a_date_with_a_progress_bar(sandbox, sku, place_order, capsys):
    day = sandbox_now(sandbox).date()
    paid_at_wechat(sandbox, place_order([(sku, 1)]))
    bill_ready(sandbox, day)
    out = StringIO()

    call_command("reconcile_payments", "--date", day.isoformat(), stdout=out)

    run = ReconciliationRun.objects.get()
    assert (run.status, run.triggered_by, run.matched_count) == ("succeeded", ReconciliationTrigger.COMMAND, 1)
    assert f"Run #{run.pk} of {day}: 1 payment and 0 refund rows, 1 matched, 0 discrepancies" in out.getvalue()
    assert "settled ¥39.90" in out.getvalue()
    assert f"Reconciling {day}" in capsys.readouterr().out  # the bar, on the terminal


@pytest.mark.django_db
def test_the_command_refuses_bad_dates_and_reports_a_failed_run(sandbox, sku, place_order):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("reconcile_payments", "--date", "2026-13-01")
    with pytest.raises(CommandError, match="in the future"):
        call_command("reconcile_payments", "--date", (beijing_today() + timedelta(days=1)).isoformat())
    assert not ReconciliationRun.objects.exists()

    day = sandbox_now(sandbox).date()
    paid_at_wechat(sandbox, place_order([(sku, 1)]))
    advance_to(sandbox, next_morning(day, hour=9))
    with pytest.raises(CommandError, match="failed: .*not made yet"):
        call_command("reconcile_payments", "--date", day.isoformat(), "--no-progress")
