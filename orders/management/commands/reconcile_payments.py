"""Reconcile WeChat Pay's bill of one Beijing date: python manage.py reconcile_payments --date 2026-11-22."""

from argparse import ArgumentTypeError
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from config.money import format_fen
from orders.exceptions import MerchantNotPaidThrough, ReconciliationAlreadyRunning
from orders.models import ReconciliationRunStatus, ReconciliationTrigger
from orders.services.reconciliation import beijing_today, reconciliation_run


class Command(BaseCommand):
    help = "Download WeChat Pay's bill of a date, compare it with our payments and refunds, record the run."

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", dest="bill_date", required=True, type=_bill_date, help="The Beijing date, YYYY-MM-DD."
        )
        parser.add_argument("--no-progress", action="store_true", help="No progress bar (logs, cron).")
        parser.add_argument(
            "--merchant",
            dest="mch_id",
            default=None,
            help="The merchant id whose bill to reconcile (default: the settings' merchant).",
        )

    def handle(self, *args, bill_date: date, no_progress: bool, mch_id: str | None = None, **options):
        # Today's bill is WeChat's to refuse (it is made the next morning; the sandbox's clock may be ahead).
        if bill_date > beijing_today():
            raise CommandError(f"{bill_date} is in the future: WeChat makes a day's bill the next morning.")
        # The bill's length is unknown until it ends, so the bar counts rows rather than a share.
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            disable=no_progress,
        ) as progress:
            reading = progress.add_task(f"Reconciling {bill_date}", total=None)
            try:
                run = reconciliation_run(
                    bill_date=bill_date,
                    triggered_by=ReconciliationTrigger.COMMAND,
                    progress=lambda rows: progress.update(reading, completed=rows),
                    mch_id=mch_id,
                )
            except (ReconciliationAlreadyRunning, MerchantNotPaidThrough) as error:
                raise CommandError(error.message) from error
        if run.status == ReconciliationRunStatus.FAILED:
            raise CommandError(f"Run #{run.pk} failed: {run.error_message}")
        summary = (
            f"Run #{run.pk} of {bill_date}: {run.payment_rows} payment and {run.refund_rows} refund rows, "
            f"{run.matched_count} matched, {run.discrepancy_count} discrepancies ({run.repaired_count} repaired)"
        )
        if not run.bill_found:
            summary += "; WeChat has no bill for that day (no trades)"
        elif run.summary_settlement_fen is not None:
            settled, refunded = format_fen(run.summary_settlement_fen), format_fen(run.summary_refund_fen)
            summary += f"; settled {settled}, refunded {refunded}"
        self.stdout.write(self.style.SUCCESS(summary + "."))


def _bill_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from None
