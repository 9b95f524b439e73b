"""Daily reconciliation: WeChat Pay's bill against our payments and refunds.

Bills come from our sample (tests/fixtures/wechat/bill-sample.csv, the 27-column layout), an
older 24-column bill written here from 微信支付 V2 开发文档, 下载交易账单 (总金额, 代金券或立减优惠金额,
...; summary 总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额), and the
sandbox's pay/downloadbill, whose control API makes a bill with chosen discrepancies.
"""

from datetime import date, datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from orders.exceptions import DiscrepancyAlreadyResolved, ReconciliationAlreadyRunning
from orders.models import (
    Discrepancy,
    DiscrepancyKind,
    OrderEvent,
    OrderStatus,
    Payment,
    PaymentStatus,
    ReconciliationRun,
    ReconciliationRunStatus,
    ReconciliationTrigger,
    RefundStatus,
)
from orders.services.reconciliation import (
    BEIJING,
    reconciliation_run,
    reconciliation_run_from_lines,
)
from orders.services.reconciliation_status import discrepancy_resolve
from tests.factories import RefundFactory
from tests.orders.reconciliation_helpers import (
    advance_to,
    another_worker_reconciling,
    bill_ready,
    next_morning,
    paid_at_wechat,
    paid_payment,
    refunded_at_wechat,
    sample_day_record,
    sample_lines,
    sandbox_now,
)
from wechat.pay.bill import BillFormatError, BillReader, yuan_to_fen
from wechat.pay.gateway import payment_gateway

K = DiscrepancyKind
SAMPLE_DATE = date(2026, 11, 22)

OLD_LAYOUT_BILL = [
    "交易时间,公众账号ID,商户号,子商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
    "总金额,代金券或立减优惠金额,微信退款单号,商户退款单号,退款金额,代金券或立减优惠退款金额,退款类型,退款状态,"
    "商品名称,商户数据包,手续费,费率",
    "`2016-05-04 09:10:11,`wx2421b1c4370ec43b,`10000100,`0,`,`4007752001201605045187254815,`OLD0001,"
    "`oUpF8uMEb4qRXf22hE3X68TekukE,`JSAPI,`SUCCESS,`CFT,`CNY,`0.01,`0.00,`0,`0,`0,`0,`,`,`Mug,`,`0.00000,`0.60%",
    "`2016-05-04 18:20:21,`wx2421b1c4370ec43b,`10000100,`0,`,`4007752001201605045187254815,`OLD0001,"
    "`oUpF8uMEb4qRXf22hE3X68TekukE,`JSAPI,`REFUND,`CFT,`CNY,`0.00,`0.00,`2007752001201605040215233402,"
    "`OLDR1,`0.01,`0.00,`ORIGINAL,`SUCCESS,`Mug,`,`0.00000,`0.60%",
    "总交易单数,总交易额,总退款金额,总代金券或立减优惠退款金额,手续费总金额",
    "`2,`0.01,`0.01,`0.00,`0.00000",
]


# --- reading bills -------------------------------------------------------------------------------------------


def test_the_shared_sample_bill_reads_by_header_name(wechat_sample):
    reader = BillReader(sample_lines(wechat_sample))
    rows = list(reader)

    assert [(row.out_trade_no, row.trade_state, row.order_fen) for row in rows] == [
        ("20261122091458000001", "SUCCESS", 3990),
        ("20261122114010000002", "SUCCESS", 12800),
        ("20261122200501000003", "SUCCESS", 1090),
        ("20261122114010000002", "REFUND", 0),
    ]
    coupon_paid = rows[2]
    assert (coupon_paid.order_fen, coupon_paid.settlement_fen) == (1090, 990)  # 1.00 of it was a coupon
    refund = rows[3]
    assert (refund.out_refund_no, refund.refund_id, refund.refund_requested_fen, refund.refund_status) == (
        "R20261122213000000001",
        "50002026112201234567890",
        2800,
        "SUCCESS",
    )
    assert rows[0].transaction_id == "4200002026112211110000000001"
    assert rows[0].traded_at == "2026-11-22 09:15:02" and rows[0].line_number == 2
    totals = reader.totals
    assert (totals.columns, totals.trade_count, totals.row_count) == (27, 4, 4)
    assert totals.summary_fen == {"settlement": 17780, "refund": 2800, "order": 17880, "refund_requested": 2800}
    assert totals.mismatches() == []


def test_an_older_24_column_bill_reads_by_its_own_header_names():
    reader = BillReader(OLD_LAYOUT_BILL)
    payment, refund = list(reader)

    assert (payment.out_trade_no, payment.trade_state, payment.order_fen, payment.settlement_fen) == (
        "OLD0001",
        "SUCCESS",
        1,
        1,
    )
    assert (refund.out_refund_no, refund.refund_requested_fen, refund.refund_fen) == ("OLDR1", 1, 1)
    assert reader.totals.columns == 24
    assert reader.totals.summary_fen == {"settlement": 1, "refund": 1, "order": None, "refund_requested": None}
    assert reader.totals.mismatches() == []


def test_lines_with_their_line_ends_and_a_byte_order_mark_read_the_same(wechat_sample):
    text = "\ufeff" + wechat_sample("bill-sample.csv").decode()

    rows = list(BillReader(text.splitlines(keepends=True)))

    assert [row.out_trade_no for row in rows] == [row.out_trade_no for row in BillReader(sample_lines(wechat_sample))]


def test_a_comma_inside_a_field_stays_in_it(wechat_sample):
    lines = sample_lines(wechat_sample)
    lines[1] = lines[1].replace("`Ceramic mug x1", "`Ceramic mug, large x1")

    first = next(iter(BillReader(lines)))

    assert (first.out_trade_no, first.order_fen) == ("20261122091458000001", 3990)


@pytest.mark.parametrize(
    ("text", "fen"),
    [("39.90", 3990), ("0.01", 1), ("128", 12800), ("-0.17", -17), ("99999999.99", 9999999999), ("1.5", 150)],
)
def test_yuan_become_fen_exactly(text, fen):
    assert yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["0.005", "1.999", "", "abc", "NaN", "Infinity"])
def test_amounts_finer_than_a_fen_or_not_amounts_are_refused(text):
    with pytest.raises(BillFormatError):
        yuan_to_fen(text)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda lines: lines[:-3] + [""], "cut short"),  # the summary header and row lost
        (lambda lines: lines[:-2], "cut short"),
        (lambda lines: [lines[0], lines[1] + ",`extra"] + lines[2:], "fields"),
        (lambda lines: [lines[0].replace("商户订单号", "订单")] + lines[1:], "商户订单号"),
        (lambda lines: [lines[0], lines[1].replace("`39.90", "`39.9x", 1)] + lines[2:], "amount"),
        (lambda lines: lines + ["`stray"], "after its summary"),
        (lambda lines: [], "empty"),
    ],
)
def test_a_malformed_bill_is_refused_with_the_reason(wechat_sample, change, message):
    with pytest.raises(BillFormatError, match=message):
        list(BillReader(change(sample_lines(wechat_sample))))


def test_a_summary_that_disagrees_with_the_rows_is_reported(wechat_sample):
    lines = sample_lines(wechat_sample)
    lines[-2] = "`5,`177.80,`28.00,`0.00,`0.89000,`178.00,`28.00"
    reader = BillReader(lines)
    list(reader)

    assert reader.totals.mismatches() == [("trade_count", 5, 4), ("order", 17800, 17880)]


# --- reconciling a bill at hand ------------------------------------------------------------------------------


@pytest.fixture
def sample_day_recorded():
    sample_day_record()


def _reconcile_lines(lines, bill_date=SAMPLE_DATE) -> ReconciliationRun:
    return reconciliation_run_from_lines(bill_date=bill_date, lines=lines, triggered_by=ReconciliationTrigger.COMMAND)


def _problems(run: ReconciliationRun | None = None) -> set[tuple[str, str, str]]:
    rows = Discrepancy.objects.filter(last_seen_run=run) if run else Discrepancy.objects.all()
    return {(row.kind, row.out_trade_no, row.out_refund_no) for row in rows}


@pytest.mark.django_db
def test_the_sample_bill_against_the_same_payments_finds_nothing(wechat_sample, sample_day_recorded):
    run = _reconcile_lines(sample_lines(wechat_sample))

    run.refresh_from_db()
    assert run.status == ReconciliationRunStatus.SUCCEEDED
    assert (run.payment_rows, run.refund_rows, run.matched_count, run.discrepancy_count) == (3, 1, 4, 0)
    assert (run.summary_trade_count, run.summary_settlement_fen, run.rows_settlement_fen) == (4, 17780, 17780)
    assert (run.summary_refund_fen, run.rows_refund_fen, run.summary_order_fen, run.rows_order_fen) == (
        2800,
        2800,
        17880,
        17880,
    )
    assert run.bill_columns == 27 and run.bill_found and run.finished_at is not None
    assert not Discrepancy.objects.exists()


@pytest.mark.django_db
def test_the_older_layout_reconciles_too():
    payment = paid_payment("OLD0001", 1, "4007752001201605045187254815", datetime(2016, 5, 4, 9, 10, tzinfo=BEIJING))
    RefundFactory(payment=payment, out_refund_no="OLDR1", amount_fen=1, status=RefundStatus.SUCCEEDED)

    run = _reconcile_lines(OLD_LAYOUT_BILL, bill_date=date(2016, 5, 4))

    assert (run.status, run.matched_count, run.discrepancy_count, run.bill_columns) == ("succeeded", 2, 0, 24)


@pytest.mark.django_db
def test_each_disagreement_with_the_sample_bill_is_one_discrepancy(wechat_sample, sample_day_recorded):
    Payment.objects.filter(out_trade_no="20261122091458000001").update(amount_fen=3900)
    Payment.objects.filter(out_trade_no="20261122200501000003").update(status=PaymentStatus.PENDING)
    last_minute, next_day = datetime(2026, 11, 22, 23, 59, tzinfo=BEIJING), datetime(2026, 11, 23, tzinfo=BEIJING)
    stray = paid_payment("NOTINBILL1", 500, "4200000000000000000000000009", last_minute)
    paid_payment("NEXTDAY1", 500, "4200000000000000000000000010", next_day)  # the next bill's
    lines = sample_lines(wechat_sample)
    lines[-2] = "`4,`177.80,`28.00,`0.00,`0.89000,`178.00,`28.00"  # 订单总金额 off by 0.80

    run = _reconcile_lines(lines)

    assert _problems(run) == {
        (K.AMOUNT_MISMATCH, "20261122091458000001", ""),
        (K.MISSING_LOCALLY, "20261122200501000003", ""),
        (K.MISSING_AT_WECHAT, stray.out_trade_no, ""),
        (K.TOTALS_MISMATCH, "", ""),
    }
    assert (run.matched_count, run.discrepancy_count) == (2, 4)
    amount = Discrepancy.objects.get(kind=K.AMOUNT_MISMATCH)
    assert (amount.wechat_amount_fen, amount.local_amount_fen, amount.bill_line) == (3990, 3900, 2)
    assert "¥39.90" in amount.detail and "¥39.00" in amount.detail
    totals = Discrepancy.objects.get(kind=K.TOTALS_MISMATCH)
    assert (totals.wechat_amount_fen, totals.local_amount_fen) == (17800, 17880)
    assert "订单总金额" in totals.detail
    # The payment we hold pending has no prepay at WeChat (no sandbox here): orderquery fails, nothing is repaired.
    missing = Discrepancy.objects.get(kind=K.MISSING_LOCALLY)
    assert missing.status == "open" and not missing.repaired and "Not repaired" in missing.detail
    assert Payment.objects.get(out_trade_no="20261122200501000003").status == PaymentStatus.PENDING


@pytest.mark.django_db
def test_refund_disagreements(wechat_sample, sample_day_recorded):
    from orders.models import Refund

    Refund.objects.filter(out_refund_no="R20261122213000000001").update(status=RefundStatus.PROCESSING)
    tea = Payment.objects.get(out_trade_no="20261122114010000002")
    ours_only = RefundFactory(payment=tea, amount_fen=100, status=RefundStatus.SUCCEEDED)
    never_sent = RefundFactory(payment=tea, amount_fen=100, status=RefundStatus.REQUESTED)
    lines = sample_lines(wechat_sample)
    unknown_refund = lines[4].replace("`R20261122213000000001", "`RUNKNOWN").replace("`28.00", "`1.00")
    lines = [*lines[:5], unknown_refund, lines[5], "`5,`177.80,`29.00,`0.00,`0.89000,`178.80,`29.00"]

    # Our refunds are expected in the bill of the day they were asked for (today): reconcile that day's.
    run = _reconcile_lines(lines, bill_date=timezone.now().astimezone(BEIJING).date())

    assert _problems(run) == {
        (K.STATUS_MISMATCH, "20261122114010000002", "R20261122213000000001"),
        (K.MISSING_LOCALLY, "20261122114010000002", "RUNKNOWN"),
        (K.MISSING_AT_WECHAT, "20261122114010000002", ours_only.out_refund_no),
    }
    assert never_sent.out_refund_no not in {key[2] for key in _problems(run)}
    status = Discrepancy.objects.get(kind=K.STATUS_MISMATCH)
    assert (status.wechat_status, status.local_status) == ("SUCCESS", "processing")


@pytest.mark.django_db
def test_a_malformed_bill_fails_the_run_with_the_reason_and_records_nothing(wechat_sample, sample_day_recorded):
    run = _reconcile_lines(sample_lines(wechat_sample)[:-3])

    run.refresh_from_db()
    assert run.status == ReconciliationRunStatus.FAILED and not run.error_transient
    assert "cut short" in run.error_message
    assert not Discrepancy.objects.exists()


@pytest.mark.django_db
def test_re_running_records_a_new_run_and_no_second_discrepancy(wechat_sample, sample_day_recorded):
    Payment.objects.filter(out_trade_no="20261122091458000001").update(amount_fen=3900)
    first = _reconcile_lines(sample_lines(wechat_sample))
    before = list(Discrepancy.objects.values())

    second = _reconcile_lines(sample_lines(wechat_sample))

    assert second.pk != first.pk and ReconciliationRun.objects.count() == 2
    [discrepancy] = Discrepancy.objects.all()
    assert discrepancy.run == first and discrepancy.last_seen_run == second
    assert [{**row, "last_seen_run_id": first.pk} for row in Discrepancy.objects.values()] == before
    assert (second.discrepancy_count, second.matched_count) == (1, 3)


@pytest.mark.django_db
def test_a_resolved_problem_found_again_stays_resolved(wechat_sample, sample_day_recorded, admin_user):
    Payment.objects.filter(out_trade_no="20261122091458000001").update(amount_fen=3900)
    first = _reconcile_lines(sample_lines(wechat_sample))
    [discrepancy] = Discrepancy.objects.all()
    discrepancy_resolve(discrepancy_id=discrepancy.pk, staff_user=admin_user, note="Customer paid 0.90 in cash.")

    second = _reconcile_lines(sample_lines(wechat_sample))

    [discrepancy] = Discrepancy.objects.all()
    assert (discrepancy.status, discrepancy.last_seen_run, discrepancy.resolved_by) == ("resolved", first, admin_user)
    assert discrepancy.resolution_note == "Customer paid 0.90 in cash."
    assert second.discrepancy_count == 0 and second.matched_count == 3


@pytest.mark.django_db
def test_an_open_problem_a_later_run_no_longer_finds_is_resolved_by_it(wechat_sample, sample_day_recorded):
    payment = Payment.objects.get(out_trade_no="20261122091458000001")
    Payment.objects.filter(pk=payment.pk).update(amount_fen=3900)
    _reconcile_lines(sample_lines(wechat_sample))
    Payment.objects.filter(pk=payment.pk).update(amount_fen=3990)  # put right by hand

    second = _reconcile_lines(sample_lines(wechat_sample))

    [discrepancy] = Discrepancy.objects.all()
    assert discrepancy.status == "resolved" and discrepancy.resolved_by is None
    assert discrepancy.resolution_note == f"No longer found by reconciliation run #{second.pk}."


@pytest.mark.django_db
def test_resolving_is_allowed_once(wechat_sample, sample_day_recorded, admin_user):
    Payment.objects.filter(out_trade_no="20261122091458000001").update(amount_fen=3900)
    _reconcile_lines(sample_lines(wechat_sample))
    [discrepancy] = Discrepancy.objects.all()

    resolved = discrepancy_resolve(discrepancy_id=discrepancy.pk, staff_user=admin_user, note="Checked.")
    with pytest.raises(DiscrepancyAlreadyResolved):
        discrepancy_resolve(discrepancy_id=discrepancy.pk, staff_user=admin_user, note="Again.")

    assert (resolved.status, resolved.resolved_by, resolved.resolution_note) == ("resolved", admin_user, "Checked.")
    assert Discrepancy.objects.get().resolution_note == "Checked."


@pytest.mark.django_db
def test_one_run_per_date_at_a_time_and_an_abandoned_one_gives_way(wechat_sample, settings):
    running = ReconciliationRun.objects.create(
        bill_date=SAMPLE_DATE,
        triggered_by=ReconciliationTrigger.BEAT,
        started_at=timezone.now(),
        mch_id=settings.WECHAT_PAY_MCH_ID,
    )
    with another_worker_reconciling(SAMPLE_DATE, settings.WECHAT_PAY_MCH_ID):
        with pytest.raises(ReconciliationAlreadyRunning):
            _reconcile_lines(sample_lines(wechat_sample))
    # Its worker is gone: on PostgreSQL its lock went with it; elsewhere the run gives way once old.
    if connection.vendor != "postgresql":
        ReconciliationRun.objects.filter(pk=running.pk).update(started_at=timezone.now() - timedelta(hours=3))

    run = _reconcile_lines(sample_lines(wechat_sample))

    running.refresh_from_db()
    assert running.status == ReconciliationRunStatus.FAILED and "Abandoned" in running.error_message
    assert run.status == ReconciliationRunStatus.SUCCEEDED
    # Nothing of ours that day: the sample's payments are all unknown to us.
    assert {kind for kind, _, _ in _problems(run)} == {K.MISSING_LOCALLY}


@pytest.mark.django_db
@pytest.mark.services
def test_a_run_whose_worker_died_gives_way_at_once_on_postgresql(wechat_sample, settings):
    from tests import real_services

    real_services.require(connection.vendor == "postgresql", "PostgreSQL as DATABASE_URL")
    # Marked running a second ago, but no process holds the date's lock: its worker was killed.
    died = ReconciliationRun.objects.create(
        bill_date=SAMPLE_DATE,
        triggered_by=ReconciliationTrigger.BEAT,
        started_at=timezone.now() - timedelta(seconds=1),
        mch_id=settings.WECHAT_PAY_MCH_ID,
    )

    run = _reconcile_lines(sample_lines(wechat_sample))

    died.refresh_from_db()
    assert died.status == ReconciliationRunStatus.FAILED and "Abandoned" in died.error_message
    assert run.status == ReconciliationRunStatus.SUCCEEDED


# --- against the sandbox's bill ------------------------------------------------------------------------------


@pytest.fixture
def trading_day(sandbox) -> date:
    """The sandbox's (and our) Beijing date now: the day the test's trades are made."""
    return sandbox_now(sandbox).date()


@pytest.mark.django_db
def test_a_bill_with_each_kind_of_discrepancy_finds_exactly_those_and_repairs_only_the_safe_one(
    sandbox, trading_day, sku, place_order
):
    bill_date = trading_day.strftime("%Y%m%d")
    matched = paid_at_wechat(sandbox, place_order([(sku, 1)]))
    matched_refund = refunded_at_wechat(matched, 1000, status=RefundStatus.SUCCEEDED)
    unnotified = paid_at_wechat(sandbox, place_order([(sku, 1)]), recorded=False)
    tampered = paid_at_wechat(sandbox, place_order([(sku, 1)]))
    left_out = paid_at_wechat(sandbox, place_order([(sku, 1)]))
    refund_unsettled = paid_at_wechat(sandbox, place_order([(sku, 1)]))
    unsettled_refund = refunded_at_wechat(refund_unsettled, 500, status=RefundStatus.PROCESSING)
    sandbox.change_bill(bill_date, {"订单金额": "30.00", "应结订单金额": "30.00"}, out_trade_no=tampered.out_trade_no)
    sandbox.change_bill(bill_date, {}, out_trade_no=left_out.out_trade_no, omit=True)
    ghost = sandbox.change_bill(bill_date, {"应结订单金额": "12.00", "订单金额": "12.00"}, extra=True)["fields"]
    bill_ready(sandbox, trading_day)

    run = reconciliation_run(bill_date=trading_day, triggered_by=ReconciliationTrigger.COMMAND)

    run.refresh_from_db()
    assert run.status == ReconciliationRunStatus.SUCCEEDED, run.error_message
    assert _problems() == {
        (K.MISSING_LOCALLY, unnotified.out_trade_no, ""),
        (K.MISSING_LOCALLY, ghost["商户订单号"], ""),
        (K.AMOUNT_MISMATCH, tampered.out_trade_no, ""),
        (K.MISSING_AT_WECHAT, left_out.out_trade_no, ""),
        (K.STATUS_MISMATCH, refund_unsettled.out_trade_no, unsettled_refund),
    }
    # Payment rows: 5 paid, 1 left out, 1 extra; 2 refund rows. Matched: a payment and its refund, and the
    # payment whose refund we hold unsettled.
    assert (run.payment_rows, run.refund_rows, run.matched_count) == (5, 2, 3)
    assert (run.discrepancy_count, run.repaired_count) == (5, 1)
    assert run.summary_trade_count == 7 and run.summary_order_fen == run.rows_order_fen  # WeChat's totals add up
    # Only the payment WeChat has, ours, confirmed by orderquery, is repaired.
    repaired = Discrepancy.objects.get(repaired=True)
    assert (repaired.kind, repaired.out_trade_no) == (K.MISSING_LOCALLY, unnotified.out_trade_no)
    assert repaired.status == "resolved"
    assert "orderquery answered SUCCESS" in repaired.repair_note and repaired.resolved_by is None
    unnotified.refresh_from_db()
    assert unnotified.status == PaymentStatus.PAID and unnotified.transaction_id and unnotified.paid_at
    assert unnotified.order.status == OrderStatus.PAID
    [event] = OrderEvent.objects.filter(order=unnotified.order, to_status=OrderStatus.PAID)
    assert f"reconciliation run #{run.pk}" in event.reason
    assert Discrepancy.objects.filter(status="open").count() == 4
    assert not Payment.objects.filter(out_trade_no=ghost["商户订单号"]).exists()
    assert Payment.objects.get(pk=tampered.pk).amount_fen == 3990  # the rest is for staff
    assert matched_refund  # matched: no discrepancy names it
    # The bill was asked for gzipped, as a large one should travel.
    [download] = sandbox.received("/pay/downloadbill")
    assert "<tar_type>GZIP</tar_type>" in download["body"]

    # Re-running the date changes nothing that was right: no second repair, no new rows.
    before = sorted(Discrepancy.objects.values_list("pk", "status", "repaired", "detail"))
    again = reconciliation_run(bill_date=trading_day, triggered_by=ReconciliationTrigger.COMMAND)

    assert again.status == ReconciliationRunStatus.SUCCEEDED and again.pk != run.pk
    assert (again.matched_count, again.discrepancy_count, again.repaired_count) == (4, 4, 0)
    assert sorted(Discrepancy.objects.values_list("pk", "status", "repaired", "detail")) == before
    assert OrderEvent.objects.filter(order=unnotified.order, to_status=OrderStatus.PAID).count() == 1
    assert set(Discrepancy.objects.filter(status="open").values_list("last_seen_run", flat=True)) == {again.pk}


@pytest.mark.django_db
def test_a_day_without_trades_has_no_bill_and_reconciles_as_empty(sandbox, sku, place_order):
    quiet_day = sandbox_now(sandbox).date() - timedelta(days=2)

    run = reconciliation_run(bill_date=quiet_day, triggered_by=ReconciliationTrigger.COMMAND)

    assert (run.status, run.bill_found, run.payment_rows, run.discrepancy_count) == ("succeeded", False, 0, 0)
    # Had we recorded a payment that day, WeChat's "No Bill Exist" would make it missing there.
    that_morning = datetime.combine(quiet_day, datetime.min.time(), BEIJING)
    paid = paid_payment("QUIETDAY1", 3990, "4200000000000000000000000042", that_morning)
    again = reconciliation_run(bill_date=quiet_day, triggered_by=ReconciliationTrigger.COMMAND)
    assert _problems(again) == {(K.MISSING_AT_WECHAT, paid.out_trade_no, "")}


@pytest.mark.django_db
def test_a_bill_still_being_made_fails_the_run_as_worth_retrying(sandbox, trading_day, sku, place_order):
    paid_at_wechat(sandbox, place_order([(sku, 1)]))
    if sandbox_now(sandbox).date() != trading_day:
        pytest.skip("the Beijing day changed while the bill's trades were made")
    advance_to(sandbox, next_morning(trading_day, hour=9, minute=30))

    run = reconciliation_run(bill_date=trading_day, triggered_by=ReconciliationTrigger.BEAT)

    assert run.status == ReconciliationRunStatus.FAILED and run.error_transient
    assert "not made yet" in run.error_message
    assert not Discrepancy.objects.exists()


@pytest.mark.django_db
def test_the_download_is_gzip_and_reads_the_same_as_plain(sandbox, trading_day, sku, place_order):
    paid_at_wechat(sandbox, place_order([(sku, 1)]))
    bill_ready(sandbox, trading_day)
    gateway = payment_gateway()

    zipped = list(gateway.bill_download(trading_day, gzip=True))
    plain = list(gateway.bill_download(trading_day, gzip=False))

    assert zipped == plain and len(list(BillReader(zipped))) == 1


@pytest.mark.django_db
def test_characters_copy_would_misread_are_kept_as_they_are(wechat_sample):
    lines = sample_lines(wechat_sample)
    odd = "A\\B\tC"
    lines[1] = lines[1].replace("`20261122091458000001", f"`{odd}")

    run = _reconcile_lines(lines)

    assert run.status == ReconciliationRunStatus.SUCCEEDED, run.error_message
    assert (K.MISSING_LOCALLY, odd, "") in _problems(run)


@pytest.mark.django_db
def test_money_taken_for_an_order_we_expired_is_left_to_staff(sandbox, trading_day, sku, place_order):
    from orders.models import OrderActor
    from orders.services.status import order_transition

    order = place_order([(sku, 1)])
    payment = paid_at_wechat(sandbox, order, recorded=False)  # paid at the last second, never notified
    order_transition(order_id=order.pk, to_status=OrderStatus.EXPIRED, actor=OrderActor.SYSTEM)
    bill_ready(sandbox, trading_day)

    run = reconciliation_run(bill_date=trading_day, triggered_by=ReconciliationTrigger.BEAT)

    [missing] = Discrepancy.objects.all()
    assert (missing.kind, missing.out_trade_no, missing.status, missing.repaired) == (
        K.MISSING_LOCALLY,
        payment.out_trade_no,
        "open",
        False,
    )
    assert "can no longer be paid" in missing.detail and run.repaired_count == 0
    payment.refresh_from_db()
    order.refresh_from_db()
    assert (payment.status, order.status) == (PaymentStatus.PENDING, OrderStatus.EXPIRED)
