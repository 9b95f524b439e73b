"""Reconciliation of a v3 merchant: the APIv3 trade bill read by header name, the same discrepancies, the same repair.

The bill is our v3 sample (tests/fixtures/wechat/tradebill-v3-sample.csv, written from 微信支付 APIv3
文档, 交易账单详细说明) and bills made from it here; which layout reads a bill is the merchant's API version.
"""

from datetime import date, datetime, timedelta

import pytest

from orders.models import (
    Discrepancy,
    DiscrepancyKind,
    OrderStatus,
    Payment,
    PaymentStatus,
    ReconciliationRun,
    ReconciliationRunStatus,
    ReconciliationTrigger,
    RefundStatus,
)
from orders.services.reconciliation import BEIJING, reconciliation_run_from_lines
from tests.factories import RefundFactory
from tests.orders.reconciliation_helpers import paid_at_wechat, paid_payment, sandbox_now
from wechat.merchants import mini_program_default
from wechat.models import Merchant
from wechat.pay.bill import BillFormatError
from wechat.pay.bill_v3 import V3_TRADE_BILL, bill_reader_for

K = DiscrepancyKind
SAMPLE_DATE = date(2026, 11, 22)
TEAPOT, TOWEL, TEA_SET = "2026112208050100000101", "2026112213220900000201", "2026112219475500000301"
TEAPOT_REFUND = "2026112208050100000101R01"


def v3_lines(wechat_sample) -> list[str]:
    return wechat_sample("tradebill-v3-sample.csv").decode().split("\r\n")


def _problems(run: ReconciliationRun) -> set[tuple[str, str, str]]:
    return {(row.kind, row.out_trade_no, row.out_refund_no) for row in Discrepancy.objects.filter(last_seen_run=run)}


@pytest.fixture
def v3_merchant(db) -> Merchant:
    """The settings' shop, its merchant moved to APIv3 (as a new merchant is given)."""
    merchant = mini_program_default().merchant
    merchant.api_version = Merchant.ApiVersion.V3
    merchant.save(update_fields=["api_version"])
    return merchant


@pytest.fixture
def v3_sample_day_recorded(db):
    """Our side of the v3 sample's day: three payments and the teapot's partial refund, as WeChat has them."""
    at = datetime(2026, 11, 22, 8, 5, 11, tzinfo=BEIJING)
    teapot = paid_payment(TEAPOT, 5900, "4200002026112222220000000011", at)
    paid_payment(TOWEL, 3000, "4200002026112222220000000012", at + timedelta(hours=5))
    paid_payment(TEA_SET, 12800, "4200002026112222220000000013", at + timedelta(hours=11))
    RefundFactory(
        payment=teapot,
        out_refund_no=TEAPOT_REFUND,
        amount_fen=1900,
        status=RefundStatus.SUCCEEDED,
        refund_id="50302026112200000000000011",
    )


# --- reading ----------------------------------------------------------------------------------------


def test_the_v3_sample_reads_by_header_name(wechat_sample):
    reader = bill_reader_for(v3_lines(wechat_sample), api_version="v3")
    rows = list(reader)

    assert [(row.out_trade_no, row.trade_state, row.order_fen, row.settlement_fen) for row in rows] == [
        (TEAPOT, "SUCCESS", 5900, 5900),
        (TOWEL, "SUCCESS", 3000, 2500),  # a 5.00 coupon: settled less than ordered
        (TEA_SET, "SUCCESS", 12800, 12800),
        (TEAPOT, "REFUND", 0, 0),
    ]
    refund = rows[-1]
    assert (refund.out_refund_no, refund.refund_id, refund.refund_requested_fen, refund.refund_fen) == (
        TEAPOT_REFUND,
        "50302026112200000000000011",
        1900,
        1900,
    )
    assert (refund.refund_status, refund.traded_at, refund.line_number) == ("SUCCESS", "2026-11-22 22:10:30", 5)
    assert reader.totals.columns == 27 and reader.totals.mismatches() == []
    assert reader.totals.summary_fen == {"settlement": 21200, "refund": 1900, "order": 21700, "refund_requested": 1900}


def test_the_v3_table_names_only_columns_the_v3_sample_has(wechat_sample):
    header = set(v3_lines(wechat_sample)[0].split(","))
    summary_header = set(v3_lines(wechat_sample)[-3].split(","))

    for names in V3_TRADE_BILL.row_columns.values():
        assert names[0] in header  # the current layout's name first; later ones are the early layout's
    for names in V3_TRADE_BILL.summary_figures.values():
        assert names[0] in summary_header


def test_a_v3_bill_cut_short_is_refused(wechat_sample):
    with pytest.raises(BillFormatError, match="cut short"):
        list(bill_reader_for(v3_lines(wechat_sample)[:-3], api_version="v3"))


def test_only_the_documented_versions_have_a_layout(wechat_sample):
    with pytest.raises(ValueError, match="v4"):
        bill_reader_for(v3_lines(wechat_sample), api_version="v4")


# --- reconciling ------------------------------------------------------------------------------------


def test_a_v3_merchants_bill_against_the_same_payments_finds_nothing(
    wechat_sample, v3_merchant, v3_sample_day_recorded
):
    run = reconciliation_run_from_lines(
        bill_date=SAMPLE_DATE, lines=v3_lines(wechat_sample), triggered_by=ReconciliationTrigger.COMMAND
    )

    run.refresh_from_db()
    assert run.status == ReconciliationRunStatus.SUCCEEDED, run.error_message
    assert (run.api_version, run.mch_id) == ("v3", v3_merchant.mch_id)  # read as the merchant's version
    assert (run.payment_rows, run.refund_rows, run.matched_count, run.discrepancy_count) == (3, 1, 4, 0)
    assert (run.summary_settlement_fen, run.rows_settlement_fen, run.summary_order_fen) == (21200, 21200, 21700)
    assert not Discrepancy.objects.exists()


def test_a_v2_merchants_run_says_so(wechat_sample, v3_sample_day_recorded):
    run = reconciliation_run_from_lines(
        bill_date=SAMPLE_DATE, lines=v3_lines(wechat_sample), triggered_by=ReconciliationTrigger.COMMAND
    )

    assert run.api_version == "v2" and run.status == ReconciliationRunStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        # WeChat's order amount is not ours (the summary altered to match, so only the row disagrees).
        (
            lambda lines: [
                *lines[:3],
                lines[3].replace("`128.00", "`120.00"),
                *lines[4:-2],
                "`4,`204.00,`19.00,`0.00,`1.16000,`209.00,`19.00",
                "",
            ],
            {(K.AMOUNT_MISMATCH, TEA_SET, "")},
        ),
        # A payment we have is not in WeChat's bill.
        (
            lambda lines: [*lines[:3], *lines[4:-2], "`3,`84.00,`19.00,`0.00,`0.39000,`89.00,`19.00", ""],
            {(K.MISSING_AT_WECHAT, TEA_SET, "")},
        ),
        # A refund WeChat settled that we have never heard of.
        (
            lambda lines: [
                *lines[:5],
                lines[4].replace(TEAPOT_REFUND, "RV3UNKNOWN").replace("`19.00", "`1.00"),
                *lines[5:-2],
                "`5,`212.00,`20.00,`0.00,`1.16000,`217.00,`20.00",
                "",
            ],
            {(K.MISSING_LOCALLY, TEAPOT, "RV3UNKNOWN")},
        ),
        # The summary disagrees with the rows.
        (
            lambda lines: [*lines[:-2], "`4,`212.00,`19.00,`0.00,`1.16000,`216.00,`19.00", ""],
            {(K.TOTALS_MISMATCH, "", "")},
        ),
    ],
    ids=["amount", "missing_at_wechat", "unknown_refund", "totals"],
)
def test_a_tampered_v3_bill_finds_exactly_that_discrepancy(
    wechat_sample, v3_merchant, v3_sample_day_recorded, tamper, expected
):
    run = reconciliation_run_from_lines(
        bill_date=SAMPLE_DATE, lines=tamper(v3_lines(wechat_sample)), triggered_by=ReconciliationTrigger.COMMAND
    )

    assert run.status == ReconciliationRunStatus.SUCCEEDED, run.error_message
    assert _problems(run) == expected


def test_a_refund_we_hold_unsettled_that_a_v3_bill_shows_settled_is_a_status_mismatch(
    wechat_sample, v3_merchant, v3_sample_day_recorded
):
    from orders.models import Refund

    Refund.objects.filter(out_refund_no=TEAPOT_REFUND).update(status=RefundStatus.PROCESSING)

    run = reconciliation_run_from_lines(
        bill_date=SAMPLE_DATE, lines=v3_lines(wechat_sample), triggered_by=ReconciliationTrigger.COMMAND
    )

    assert _problems(run) == {(K.STATUS_MISMATCH, TEAPOT, TEAPOT_REFUND)}
    found = Discrepancy.objects.get()
    assert (found.wechat_status, found.local_status) == ("SUCCESS", "processing")


@pytest.mark.django_db
def test_a_payment_a_v3_bill_has_and_we_hold_unpaid_is_repaired_once_orderquery_confirms_it(sandbox, sku, place_order):
    """The one safe repair, from a bill in v3's layout; orderquery goes to the merchant the payment was made with."""
    unnotified = paid_at_wechat(sandbox, place_order([(sku, 1)]), recorded=False)
    paid = next(order for order in sandbox.pay_orders() if order["out_trade_no"] == unnotified.out_trade_no)
    day = sandbox_now(sandbox).date()
    traded_at = f"{day:%Y-%m-%d} 12:00:00"
    yuan = f"{unnotified.amount_fen / 100:.2f}"
    lines = [
        "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,"
        "应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,"
        "手续费,费率,订单金额,申请退款金额,费率备注",
        ",".join(
            f"`{value}"
            for value in [traded_at, "wx2421b1c4370ec43b", "10000100", "0", "", paid["transaction_id"]]
            + [unnotified.out_trade_no, unnotified.order.customer.openid, "JSAPI", "SUCCESS", "CMC", "CNY", yuan]
            + ["0.00", "0", "0", "0.00", "0.00", "", "", "Ceramic mug x1", "", "0.24000", "0.60%", yuan, "0.00", ""]
        ),
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额",
        f"`1,`{yuan},`0.00,`0.00,`0.24000,`{yuan},`0.00",
    ]

    run = reconciliation_run_from_lines(
        bill_date=day, lines=lines, triggered_by=ReconciliationTrigger.COMMAND, api_version="v3"
    )

    assert run.status == ReconciliationRunStatus.SUCCEEDED, run.error_message
    assert (run.api_version, run.repaired_count) == ("v3", 1)
    repaired = Discrepancy.objects.get()
    assert (repaired.kind, repaired.repaired, repaired.status) == (K.MISSING_LOCALLY, True, "resolved")
    unnotified.refresh_from_db()
    assert unnotified.status == PaymentStatus.PAID and unnotified.transaction_id == paid["transaction_id"]
    assert unnotified.order.status == OrderStatus.PAID
    assert Payment.objects.filter(status=PaymentStatus.PAID).count() == 1
