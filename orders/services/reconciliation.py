"""Daily reconciliation: WeChat Pay's bill of a Beijing date against our payments and refunds.

A run, in memory that stays flat whatever the bill's size:
1. a ReconciliationRun row is created; a unique constraint keeps one running per date;
2. the bill is downloaded gzipped and read line by line (wechat.pay.bill), each row streamed
   into a temporary table (reconciliation_tables), outside any transaction;
3. SQL compares that table with our payments and refunds; the summary row is checked against
   the rows' sums;
4. each finding becomes a Discrepancy, once per problem and date: a re-run that finds the same
   problem again moves its `last_seen_run` and adds no row, and never reopens what was resolved;
5. the one safe repair: a payment WeChat's bill has and we hold unpaid is confirmed with
   `pay/orderquery` and marked paid through payment_paid_record (its order event names the run);
6. a successful run resolves the date's open discrepancies it no longer finds.
Re-running a date therefore changes nothing that was right: a repaired payment is paid, so it is
not found again, and a matched row makes no row.

"No Bill Exist" is how WeChat says it had no trades that day: the run compares an empty bill
(our payments of that day, if any, are missing at WeChat) and succeeds. "Bill Creating" and a
busy WeChat fail the run as transient, and the daily task tries again later.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from config.money import format_fen
from orders.exceptions import MerchantNotPaidThrough, ReconciliationAlreadyRunning
from orders.models import (
    Discrepancy,
    DiscrepancyKind,
    DiscrepancyStatus,
    Payment,
    ReconciliationRun,
    ReconciliationRunStatus,
)
from orders.services import reconciliation_tables as tables
from orders.services.payments import PAID_TRADE_STATES, PaidOutcome, payment_gateway_for, payment_paid_record
from orders.services.reconciliation_lock import reconciliation_date_locked
from orders.services.reconciliation_status import (
    discrepancies_resolve,
    discrepancy_repaired_resolve,
    reconciliation_run_finish,
    reconciliation_runs_abandoned_fail,
)
from orders.services.reconciliation_tables import Finding
from wechat.errors import WeChatError, WeChatPermanentError, WeChatTransientError
from wechat.merchants import mini_program_default, mini_program_of_merchant
from wechat.pay.bill import BillRow, BillTotals
from wechat.pay.bill_v3 import bill_reader_for
from wechat.pay.gateway import merchant_config, payment_gateway

logger = logging.getLogger(__name__)

BEIJING = ZoneInfo("Asia/Shanghai")
NO_BILL_ERROR_CODE = "20002"  # 下载交易账单, 错误码: 20002 No Bill Exist (账单不存在)
# A run still "running" after this long died with its worker: it no longer blocks the date.
RUN_ABANDONED_AFTER = timedelta(hours=2)
PROGRESS_EVERY_ROWS = 10_000
REPAIR_PAGE = 200

K, S = DiscrepancyKind, DiscrepancyStatus
RUN = ReconciliationRunStatus
# What a run counts on itself as it goes, saved with how it ended.
RUN_FIGURES = (
    "bill_found",
    "bill_columns",
    "payment_rows",
    "refund_rows",
    "matched_count",
    "discrepancy_count",
    "repaired_count",
    "summary_trade_count",
    "summary_settlement_fen",
    "summary_refund_fen",
    "summary_order_fen",
    "rows_settlement_fen",
    "rows_refund_fen",
    "rows_order_fen",
)
TOTAL_FIGURES = {
    "trade_count": "总交易单数 (rows)",
    "settlement": "应结订单总金额 (settled)",
    "refund": "退款总金额 (refunded)",
    "order": "订单总金额 (ordered)",
    "refund_requested": "申请退款总金额 (refunds asked)",
}

Progress = Callable[[int], None]


def beijing_today() -> date:
    return timezone.now().astimezone(BEIJING).date()


def reconciliation_run(
    *,
    bill_date: date,
    triggered_by: str,
    staff_user: AbstractBaseUser | None = None,
    progress: Progress | None = None,
    mch_id: str | None = None,
    run_id: int | None = None,
) -> ReconciliationRun:
    """Download `bill_date`'s bill of merchant `mch_id` from WeChat Pay and reconcile it; the run, failed or succeeded.

    The merchant is the settings' one when None. Its bill is downloaded and read as its WeChat Pay
    API version serves and documents it, and compared with the payments made through it. Raises
    ReconciliationAlreadyRunning if the date is being reconciled for that merchant now, and
    MerchantNotPaidThrough for a merchant no Mini Program pays through.

    With `run_id`, the run reconciliation_run_queue recorded is carried out here (its date and
    merchant are the run's); one no longer running is returned as it is (a redelivered task).
    """
    if run_id is not None:
        run = ReconciliationRun.objects.get(pk=run_id)
        if run.status != ReconciliationRunStatus.RUNNING:
            return run  # a redelivered task: the run was carried out already
        mch_id = run.mch_id
    mini_program = mini_program_of_merchant(mch_id)
    if mini_program is None:
        raise MerchantNotPaidThrough(mch_id=mch_id)
    config = merchant_config(mini_program)
    bill_date = run.bill_date if run_id is not None else bill_date
    with reconciliation_date_locked(bill_date=bill_date, mch_id=config.mch_id) as others_are_dead:
        if run_id is None:
            run = _run_start(
                bill_date=bill_date,
                triggered_by=triggered_by,
                staff_user=staff_user,
                mch_id=config.mch_id,
                api_version=config.version,
                others_are_dead=others_are_dead,
            )
        try:
            try:
                lines = payment_gateway(config).bill_download(bill_date, "ALL", gzip=True)
                _run_compare(run=run, lines=lines, progress=progress)
            except WeChatPermanentError as error:
                if str(error.errcode) != NO_BILL_ERROR_CODE and "No Bill Exist" not in str(error):
                    raise
                _run_compare(run=run, lines=None, progress=progress)
        except WeChatError as error:
            _run_fail(run=run, error=error)
        except Exception as error:
            _run_fail(run=run, error=error)
            raise
    return run


def reconciliation_run_queue(
    *, bill_date: date, triggered_by: str, staff_user: AbstractBaseUser | None = None, mch_id: str | None = None
) -> ReconciliationRun:
    """Record a run of `bill_date` as running before its task is queued, so staff see it at once.

    The task then carries it out (reconcile_payments with `run_id`). Raises ReconciliationAlreadyRunning
    if the date is being reconciled for that merchant now.
    """
    mini_program = mini_program_of_merchant(mch_id)
    if mini_program is None:
        raise MerchantNotPaidThrough(mch_id=mch_id)
    config = merchant_config(mini_program)
    return _run_start(
        bill_date=bill_date,
        triggered_by=triggered_by,
        staff_user=staff_user,
        mch_id=config.mch_id,
        api_version=config.version,
        # Queued, the run waits for a worker that holds no lock yet: only its age can tell it died.
        others_are_dead=False,
    )


def reconciliation_run_from_lines(
    *,
    bill_date: date,
    lines: Iterable[str],
    triggered_by: str,
    staff_user: AbstractBaseUser | None = None,
    progress: Progress | None = None,
    api_version: str | None = None,
    mch_id: str | None = None,
) -> ReconciliationRun:
    """Reconcile a bill already at hand (its lines, line ends allowed): the download left out, as in the bench.

    The bill is merchant `mch_id`'s (None: the settings' merchant), its lines read in the layout of
    `api_version` (None: that merchant's).
    """
    mini_program = mini_program_of_merchant(mch_id)
    if mini_program is None:
        raise MerchantNotPaidThrough(mch_id=mch_id)
    merchant = mini_program.merchant
    with reconciliation_date_locked(bill_date=bill_date, mch_id=merchant.mch_id) as others_are_dead:
        run = _run_start(
            bill_date=bill_date,
            triggered_by=triggered_by,
            staff_user=staff_user,
            mch_id=merchant.mch_id,
            api_version=api_version or merchant.api_version,
            others_are_dead=others_are_dead,
        )
        try:
            _run_compare(run=run, lines=lines, progress=progress)
        except WeChatError as error:
            _run_fail(run=run, error=error)
        except Exception as error:
            _run_fail(run=run, error=error)
            raise
    return run


def _run_start(
    *,
    bill_date: date,
    triggered_by: str,
    staff_user: AbstractBaseUser | None,
    mch_id: str,
    api_version: str,
    others_are_dead: bool,
) -> ReconciliationRun:
    now = timezone.now()
    # Holding the date's lock, any run still marked running lost its worker (reconciliation_lock.py).
    abandoned_before = now if others_are_dead else now - RUN_ABANDONED_AFTER
    reconciliation_runs_abandoned_fail(bill_date=bill_date, mch_id=mch_id, started_before=abandoned_before)
    try:
        with transaction.atomic():
            return ReconciliationRun.objects.create(
                bill_date=bill_date,
                triggered_by=triggered_by,
                staff_user=staff_user,
                started_at=now,
                mch_id=mch_id,
                api_version=api_version,
            )
    except IntegrityError:
        raise ReconciliationAlreadyRunning(bill_date=bill_date) from None


def _run_compare(*, run: ReconciliationRun, lines: Iterable[str] | None, progress: Progress | None) -> None:
    """Steps 2-6 for one run; `lines` None is WeChat's "No Bill Exist" (no trades that day)."""
    day_start = datetime.combine(run.bill_date, time.min, tzinfo=BEIJING)
    # Payments and discrepancies from before merchants were rows are the settings' merchant's.
    with_unattributed = run.mch_id == mini_program_default().merchant.mch_id
    tables.bill_tables_create()
    try:
        reader = bill_reader_for(lines, api_version=run.api_version) if lines is not None else None
        tables.bill_rows_load(_counted(reader, progress) if reader is not None else ())
        run.payment_rows, run.refund_rows = tables.bill_row_counts()
        logger.info(
            "Reconciliation run #%s of %s: bill loaded, %s payment and %s refund rows; comparing",
            run.pk,
            run.bill_date,
            run.payment_rows,
            run.refund_rows,
        )
        tables.findings_compare(
            day_start=day_start,
            day_end=day_start + timedelta(days=1),
            mch_id=run.mch_id,
            with_unattributed=with_unattributed,
        )
        if reader is not None:
            _totals_record(run=run, totals=reader.totals)
        else:
            run.bill_found = False
        run.matched_count = run.payment_rows + run.refund_rows - tables.bill_rows_with_findings()
        for page in tables.findings_pages():
            _discrepancies_record(run=run, findings=page, key_prefix="" if with_unattributed else f"{run.mch_id}/")
    finally:
        tables.bill_tables_drop()
    run.repaired_count = _payments_repair(run=run)
    merchants_runs = Q(last_seen_run__mch_id=run.mch_id) | (Q(last_seen_run__mch_id="") if with_unattributed else Q())
    discrepancies_resolve(
        discrepancies=Discrepancy.objects.filter(merchants_runs, bill_date=run.bill_date).exclude(last_seen_run=run),
        note=_("No longer found by reconciliation run #%(run)s.") % {"run": run.pk},
    )
    run.discrepancy_count = Discrepancy.objects.filter(last_seen_run=run).count()
    reconciliation_run_finish(run=run, to_status=RUN.SUCCEEDED, fields=_figures(run))


def _counted(rows: Iterable[BillRow], progress: Progress | None) -> Iterator[BillRow]:
    if progress is None:
        yield from rows
        return
    count = 0
    for row in rows:
        yield row
        count += 1
        if count % PROGRESS_EVERY_ROWS == 0:
            progress(count)
    progress(count)


def _run_fail(*, run: ReconciliationRun, error: Exception) -> None:
    logger.warning("Reconciliation of %s failed: %s", run.bill_date, error)
    reconciliation_run_finish(
        run=run,
        to_status=RUN.FAILED,
        reason=str(error),
        fields={**_figures(run), "error_transient": isinstance(error, WeChatTransientError)},
    )


def _figures(run: ReconciliationRun) -> dict:
    return {name: getattr(run, name) for name in RUN_FIGURES}


def _totals_record(*, run: ReconciliationRun, totals: BillTotals) -> None:
    run.bill_columns = totals.columns
    run.summary_trade_count = totals.trade_count
    run.summary_settlement_fen = totals.summary_fen["settlement"]
    run.summary_refund_fen = totals.summary_fen["refund"]
    run.summary_order_fen = totals.summary_fen["order"]
    run.rows_settlement_fen = totals.rows_fen["settlement"]
    run.rows_refund_fen = totals.rows_fen["refund"]
    run.rows_order_fen = totals.rows_fen["order"]
    for figure, summary, rows in totals.mismatches():
        tables.finding_add(
            Finding(
                kind=K.TOTALS_MISMATCH,
                bill_line=None,
                out_trade_no="",
                out_refund_no=figure,  # the figure is the problem's identity (see _problem_key)
                transaction_id="",
                local_amount_fen=rows,
                wechat_amount_fen=summary,
                local_status="",
                wechat_status="",
            )
        )


def _problem_key(finding: Finding, prefix: str = "") -> str:
    # Another merchant's keys carry its id: its totals (and any row both bills list) are its own problems.
    return f"{prefix}{finding.kind}:{finding.out_trade_no}:{finding.out_refund_no}"


def _discrepancies_record(*, run: ReconciliationRun, findings: list[Finding], key_prefix: str) -> None:
    """New problems become rows; open ones seen again move their last_seen_run; resolved ones stay as they are."""
    by_key = {_problem_key(finding, key_prefix): finding for finding in findings}
    known = set(
        Discrepancy.objects.filter(bill_date=run.bill_date, problem_key__in=by_key).values_list(
            "problem_key", flat=True
        )
    )
    Discrepancy.objects.filter(bill_date=run.bill_date, problem_key__in=known, status=S.OPEN).update(last_seen_run=run)
    Discrepancy.objects.bulk_create(
        [_discrepancy_of(run=run, key=key, finding=finding) for key, finding in by_key.items() if key not in known]
    )


def _discrepancy_of(*, run: ReconciliationRun, key: str, finding: Finding) -> Discrepancy:
    is_total = finding.kind == K.TOTALS_MISMATCH
    return Discrepancy(
        run=run,
        last_seen_run=run,
        bill_date=run.bill_date,
        kind=finding.kind,
        problem_key=key,
        out_trade_no=finding.out_trade_no,
        out_refund_no="" if is_total else finding.out_refund_no,
        transaction_id=finding.transaction_id,
        bill_line=finding.bill_line,
        local_amount_fen=finding.local_amount_fen,
        wechat_amount_fen=finding.wechat_amount_fen,
        local_status=finding.local_status,
        wechat_status=finding.wechat_status,
        detail=_detail(finding)[:500],
    )


def _detail(finding: Finding) -> str:
    """What staff read: the problem in a sentence, amounts in yuan."""
    words = {
        "local": format_fen(finding.local_amount_fen) if finding.local_amount_fen is not None else "",
        "wechat": format_fen(finding.wechat_amount_fen) if finding.wechat_amount_fen is not None else "",
        "trade": finding.out_trade_no,
        "refund": finding.out_refund_no,
        "local_status": finding.local_status,
        "wechat_status": finding.wechat_status,
    }
    refund = finding.out_refund_no
    if finding.kind == K.TOTALS_MISMATCH:
        words["label"] = TOTAL_FIGURES.get(refund, refund)
        if refund == "trade_count":
            counts = {"wechat_count": finding.wechat_amount_fen, "local_count": finding.local_amount_fen}
            return _("The bill's summary says %(label)s is %(wechat_count)s; it has %(local_count)s.") % {
                **words,
                **counts,
            }
        return _("The bill's summary says %(label)s is %(wechat)s; its rows add up to %(local)s.") % words
    if refund:
        if finding.kind == K.MISSING_LOCALLY:
            return _("WeChat refunded %(wechat)s of %(trade)s as %(refund)s, which is not one of our refunds.") % words
        if finding.kind == K.MISSING_AT_WECHAT:
            return (
                _("Our refund %(refund)s of %(local)s (%(trade)s) is %(local_status)s; WeChat's bill lacks it.") % words
            )
        if finding.kind == K.AMOUNT_MISMATCH:
            return _("WeChat's bill has refund %(refund)s as %(wechat)s; ours is %(local)s.") % words
        return _("WeChat's bill has refund %(refund)s %(wechat_status)s; ours is %(local_status)s.") % words
    if finding.kind == K.MISSING_LOCALLY:
        if not finding.local_status:
            return _("WeChat took %(wechat)s for %(trade)s, which is not one of our payments.") % words
        return _("WeChat took %(wechat)s for %(trade)s; our payment is %(local_status)s.") % words
    if finding.kind == K.MISSING_AT_WECHAT:
        return _("We hold %(trade)s paid (%(local)s) on this date; WeChat's bill does not list it.") % words
    if finding.kind == K.AMOUNT_MISMATCH:
        return _("WeChat's bill has %(trade)s at %(wechat)s; our payment is %(local)s.") % words
    if finding.wechat_status != "SUCCESS":
        return _("WeChat's bill has %(trade)s %(wechat_status)s; our payment is %(local_status)s.") % words
    return _("WeChat's bill pays %(trade)s with transaction %(transaction)s, not the one we recorded.") % {
        **words,
        "transaction": finding.transaction_id,
    }


def _payments_repair(*, run: ReconciliationRun) -> int:
    """Mark paid what WeChat's bill has paid and we hold unpaid, once orderquery confirms it; returns how many.

    Only this is safe to repair: the money is ours for an order of ours. Everything else (an
    unknown order, amounts, refunds) needs a person. WeChat is called outside any transaction.
    """
    repaired = 0
    last_id = 0
    while True:
        page = list(
            Discrepancy.objects.filter(
                last_seen_run=run, kind=K.MISSING_LOCALLY, status=S.OPEN, out_refund_no="", id__gt=last_id
            )
            .exclude(local_status="")
            .order_by("id")[:REPAIR_PAGE]
        )
        if not page:
            return repaired
        last_id = page[-1].pk
        for discrepancy in page:
            repaired += _payment_repair(run=run, discrepancy=discrepancy)


def _payment_repair(*, run: ReconciliationRun, discrepancy: Discrepancy) -> bool:
    payment = Payment.objects.filter(out_trade_no=discrepancy.out_trade_no).first()
    if payment is None:
        return False
    try:
        # Asked as the payment was signed: WeChat signs its answer the same way.
        answer = payment_gateway_for(payment=payment).order_query(discrepancy.out_trade_no)
    except WeChatError as error:
        _discrepancy_note(discrepancy, _("Not repaired: orderquery failed (%(error)s).") % {"error": error})
        return False
    if answer.trade_state not in PAID_TRADE_STATES or not answer.transaction_id or not answer.time_end:
        _discrepancy_note(
            discrepancy, _("Not repaired: orderquery answers %(state)s, not paid.") % {"state": answer.trade_state}
        )
        return False
    if answer.total_fee != payment.amount_fen:
        _discrepancy_note(
            discrepancy,
            _("Not repaired: orderquery says %(wechat)s, our payment is %(local)s.")
            % {"wechat": format_fen(answer.total_fee), "local": format_fen(payment.amount_fen)},
        )
        return False
    paid_at = datetime.strptime(answer.time_end, "%Y%m%d%H%M%S").replace(tzinfo=BEIJING)
    outcome = payment_paid_record(
        out_trade_no=payment.out_trade_no,
        transaction_id=answer.transaction_id,
        amount_fen=answer.total_fee,
        paid_at=paid_at,
        reason=_("reconciliation run #%(run)s: paid in WeChat's bill of %(date)s, confirmed by orderquery")
        % {"run": run.pk, "date": run.bill_date},
    )
    if outcome == PaidOutcome.APPLIED:
        discrepancy_repaired_resolve(
            discrepancy_id=discrepancy.pk,
            repair_note=_(
                "Payment %(trade)s marked paid: orderquery answered %(state)s, transaction %(transaction)s, "
                "%(amount)s, paid %(paid_at)s."
            )
            % {
                "trade": payment.out_trade_no,
                "state": answer.trade_state,
                "transaction": answer.transaction_id,
                "amount": format_fen(answer.total_fee),
                "paid_at": f"{paid_at:%Y-%m-%d %H:%M:%S}",
            },
        )
        return True
    if outcome == PaidOutcome.DUPLICATE:
        discrepancies_resolve(
            discrepancies=Discrepancy.objects.filter(pk=discrepancy.pk),
            note=_("Paid meanwhile (its notification came)."),
        )
        return False
    reasons = {
        PaidOutcome.ORDER_NOT_PAYABLE: _("its order can no longer be paid (cancelled or expired): refund the customer"),
        PaidOutcome.AMOUNT_MISMATCH: _("the amounts differ"),
        PaidOutcome.UNKNOWN_PAYMENT: _("the payment is gone"),
    }
    _discrepancy_note(discrepancy, _("Not repaired: %(why)s.") % {"why": reasons.get(outcome, outcome)})
    return False


def _discrepancy_note(discrepancy: Discrepancy, note: str) -> None:
    Discrepancy.objects.filter(pk=discrepancy.pk).update(detail=f"{discrepancy.detail} {note}"[:500])
