"""Each merchant's bill is reconciled against the payments made through that merchant, on its own."""

from datetime import date, datetime, timedelta

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from orders.exceptions import MerchantNotPaidThrough, ReconciliationAlreadyRunning
from orders.models import Discrepancy, DiscrepancyKind, Payment, ReconciliationRun, ReconciliationTrigger, RefundStatus
from orders.services.reconciliation import BEIJING, reconciliation_run_from_lines
from orders.tasks import reconcile_payments
from tests.factories import RefundFactory
from tests.orders.reconciliation_helpers import (
    another_worker_reconciling,
    paid_payment,
    sample_day_record,
    sample_lines,
    sandbox_now,
)
from wechat.merchants import merchants_taking_payments, mini_program_default
from wechat.models import Merchant, MiniProgram

pytestmark = pytest.mark.django_db
K = DiscrepancyKind
SAMPLE_DATE = date(2026, 11, 22)
V3_MCH_ID, V3_APPID = "1230000109", "wx00000000000000d9"


@pytest.fixture
def v3_shop() -> MiniProgram:
    merchant = Merchant.objects.create(name="v3 shop", mch_id=V3_MCH_ID, api_version="v3", apiv3_key="k" * 32)
    return MiniProgram.objects.create(name="v3 app", appid=V3_APPID, app_secret="s", merchant=merchant)


@pytest.fixture
def both_days_recorded(v3_shop):
    """The v2 sample's day through the settings' merchant, and the v3 sample's day through the v3 shop's."""
    sample_day_record()
    at = datetime(2026, 11, 22, 8, 5, 11, tzinfo=BEIJING)
    for out_trade_no, fen, transaction_id, hours in [
        ("2026112208050100000101", 5900, "4200002026112222220000000011", 0),
        ("2026112213220900000201", 3000, "4200002026112222220000000012", 5),
        ("2026112219475500000301", 12800, "4200002026112222220000000013", 11),
    ]:
        payment = paid_payment(out_trade_no, fen, transaction_id, at + timedelta(hours=hours))
        Payment.objects.filter(pk=payment.pk).update(appid=V3_APPID, mch_id=V3_MCH_ID)
    RefundFactory(
        payment=Payment.objects.get(out_trade_no="2026112208050100000101"),
        out_refund_no="2026112208050100000101R01",
        amount_fen=1900,
        status=RefundStatus.SUCCEEDED,
        refund_id="50302026112200000000000011",
    )


def _reconcile(lines, **merchant) -> ReconciliationRun:
    return reconciliation_run_from_lines(
        bill_date=SAMPLE_DATE, lines=lines, triggered_by=ReconciliationTrigger.COMMAND, **merchant
    )


def v3_lines(wechat_sample) -> list[str]:
    return wechat_sample("tradebill-v3-sample.csv").decode().split("\r\n")


def test_each_merchants_bill_matches_its_own_payments_and_not_the_others(wechat_sample, both_days_recorded):
    settings_merchants = _reconcile(sample_lines(wechat_sample))
    v3_merchants = _reconcile(v3_lines(wechat_sample), mch_id=V3_MCH_ID)

    assert (settings_merchants.mch_id, settings_merchants.api_version) == (mini_program_default().merchant.mch_id, "v2")
    assert (v3_merchants.mch_id, v3_merchants.api_version) == (V3_MCH_ID, "v3")
    for run in (settings_merchants, v3_merchants):
        assert (run.status, run.matched_count, run.discrepancy_count) == ("succeeded", 4, 0), run.error_message
    assert not Discrepancy.objects.exists()


def test_a_merchants_payment_missing_from_its_bill_is_found_in_its_run_only(wechat_sample, both_days_recorded):
    lines = v3_lines(wechat_sample)
    without_tea_set = [*lines[:3], *lines[4:-2], "`3,`84.00,`19.00,`0.00,`0.39000,`89.00,`19.00", ""]

    v3_run = _reconcile(without_tea_set, mch_id=V3_MCH_ID)
    settings_run = _reconcile(sample_lines(wechat_sample))

    assert [(d.kind, d.out_trade_no) for d in Discrepancy.objects.filter(last_seen_run=v3_run)] == [
        (K.MISSING_AT_WECHAT, "2026112219475500000301")
    ]
    assert settings_run.discrepancy_count == 0
    # The settings' merchant's clean run leaves the other merchant's open problem alone.
    assert Discrepancy.objects.get().status == "open"


def test_the_same_totals_problem_of_two_merchants_is_two_discrepancies(wechat_sample, both_days_recorded):
    v2 = sample_lines(wechat_sample)
    v3 = v3_lines(wechat_sample)

    _reconcile([*v2[:-2], "`4,`177.80,`28.00,`0.00,`0.90000,`178.00,`28.00", ""])
    _reconcile([*v3[:-2], "`4,`212.00,`19.00,`0.00,`1.16000,`216.00,`19.00", ""], mch_id=V3_MCH_ID)

    assert sorted(Discrepancy.objects.values_list("kind", "last_seen_run__mch_id")) == sorted(
        [(K.TOTALS_MISMATCH, mini_program_default().merchant.mch_id), (K.TOTALS_MISMATCH, V3_MCH_ID)]
    )


def test_two_merchants_reconcile_one_date_at_once_but_each_one_run_at_a_time(wechat_sample, both_days_recorded):
    running = ReconciliationRun.objects.create(
        bill_date=SAMPLE_DATE,
        triggered_by=ReconciliationTrigger.BEAT,
        started_at=timezone.now(),
        mch_id=mini_program_default().merchant.mch_id,
    )

    with another_worker_reconciling(SAMPLE_DATE, running.mch_id):
        assert _reconcile(v3_lines(wechat_sample), mch_id=V3_MCH_ID).status == "succeeded"
        with pytest.raises(ReconciliationAlreadyRunning):
            _reconcile(sample_lines(wechat_sample))
    running.refresh_from_db()
    assert running.status == "running"


def test_a_merchant_no_mini_program_pays_through_has_no_bill_of_ours(wechat_sample):
    Merchant.objects.create(name="Idle", mch_id="1900000888", api_version="v2", api_key="i" * 32)

    with pytest.raises(MerchantNotPaidThrough):
        _reconcile(sample_lines(wechat_sample), mch_id="1900000888")
    assert "1900000888" not in merchants_taking_payments()


@pytest.fixture
def second_v2_shop(sandbox):
    """A second v2 merchant at the sandbox and among our rows."""
    sandbox.register_app("wx00000000000000da", "second-secret", "mini_program")
    sandbox.register_merchant(mch_id="1900000999", api_key="n" * 32, appid="wx00000000000000da")
    merchant = Merchant.objects.create(name="Second", mch_id="1900000999", api_version="v2", api_key="n" * 32)
    MiniProgram.objects.create(name="Second", appid="wx00000000000000da", app_secret="second-secret", merchant=merchant)
    yield merchant
    sandbox.remove_app("wx00000000000000da")


@pytest.fixture
def tasks_run_eagerly():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def test_the_daily_task_reconciles_every_merchant_a_mini_program_pays_through(
    sandbox, second_v2_shop, tasks_run_eagerly
):
    quiet_day = sandbox_now(sandbox).date() - timedelta(days=2)

    run_id = reconcile_payments(bill_date=quiet_day.isoformat())

    runs = {run.mch_id: run for run in ReconciliationRun.objects.filter(bill_date=quiet_day)}
    assert set(runs) == {mini_program_default().merchant.mch_id, "1900000999"}
    assert runs[mini_program_default().merchant.mch_id].pk == run_id
    assert all(run.status == "succeeded" and not run.bill_found for run in runs.values())
    downloads = [call["body"] for call in sandbox.received("/pay/downloadbill")]
    assert sum("<mch_id>1900000999</mch_id>" in body for body in downloads) == 1
