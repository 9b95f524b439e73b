"""The worker SIGKILLed while a 3-batch push is sending, and while a reconciliation run is in progress.

The dying worker (tests/articles/dying_worker.py) runs the product's own app and SIGKILLs itself
at a chosen point: only the killing is test-made. A fresh worker then takes over what beat (its own
process) hands it, on the private PostgreSQL and Redis of tests/faults/deployment.py.
"""

import signal
import time

import pytest

from tests.articles.pushes import wait_for
from wechat_sandbox.client import SandboxClient

pytestmark = [pytest.mark.faults, pytest.mark.services, pytest.mark.timeout(300)]

# 50 followers and 20,000 strangers: 20,050 openids are three batches of at most 10,000.
FOLLOWERS, STRANGERS, BATCHES = 50, 20_000, 3


def test_a_worker_killed_while_a_three_batch_push_is_sending_sends_each_batch_once(deployment, sandbox_server, figures):
    # WeChat has accepted batch 2, and the worker dies before it stores the msg_id: the worst moment.
    dying = deployment.beat_and_worker_start(
        app="tests.articles.dying_worker", pool="solo", DIE_AFTER_STEP="batch:2:answered"
    )
    started = time.monotonic()
    push = deployment.schedule_push(audience="openids", followers=FOLLOWERS, strangers=STRANGERS)
    wait_for(lambda: not dying.running(), timeout=90, interval=0.2, what="the worker to die after batch 2")
    assert dying.process.returncode == -signal.SIGKILL
    killed_after = round(time.monotonic() - started, 1)

    deployment.worker_start()  # beat resumes the stalled push on it
    batches = wait_for(
        lambda: (
            rows
            if len(
                rows := deployment.query(
                    "SELECT number, clientmsgid, msg_id FROM articles_pushbatch WHERE push_id = %s AND msg_id <> ''"
                    " ORDER BY number",
                    push["push_id"],
                )
            )
            == BATCHES
            else None
        ),
        timeout=90,
        interval=0.5,
        what="three batches accepted",
    )

    sent = SandboxClient(sandbox_server.url).mass_sends(push["appid"])
    assert [number for number, _, _ in batches] == [1, 2, 3]
    assert sent["per_clientmsgid"] == {clientmsgid: 1 for _, clientmsgid, _ in batches}
    assert sent["count"] == BATCHES
    assert {msg_id for _, _, msg_id in batches} == {str(send["msg_id"]) for send in sent["sends"]}
    figures(
        "worker SIGKILLed mid-push (WeChat accepted batch 2 of 3, its msg_id not yet stored)",
        killed_after_seconds_from_scheduling=killed_after,
        resumed_and_done_in_seconds=round(time.monotonic() - started - killed_after, 1),
        batches=BATCHES,
        sends_accepted_by_wechat=sent["count"],
        sends_per_batch=sorted(sent["per_clientmsgid"].values()),
    )


RECONCILED_DAYS_AGO = 3
GHOST_PAYMENTS = 5
RUN_FIGURES_SQL = (
    "SELECT id, status, payment_rows, refund_rows, matched_count, discrepancy_count, repaired_count,"
    " summary_trade_count, summary_settlement_fen, rows_settlement_fen FROM orders_reconciliationrun"
    " WHERE bill_date = %s ORDER BY id"
)
RECONCILE = "from orders.tasks import reconcile_payments; reconcile_payments.delay(bill_date={day!r}); print('{{}}')"


def _runs(deployment, day: str) -> list[tuple]:
    return deployment.query(RUN_FIGURES_SQL, day)


def _wait_for_runs(deployment, day: str, count: int) -> list[tuple]:
    return wait_for(
        lambda: runs if len(runs := _runs(deployment, day)) == count and runs[-1][1] != "running" else None,
        timeout=60,
        interval=0.5,
        what=f"{count} reconciliation runs of {day}, the last one finished",
    )


def test_a_worker_killed_mid_reconciliation_is_resumed_with_an_undisturbed_runs_result(
    deployment, sandbox_server, figures
):
    sandbox = SandboxClient(sandbox_server.url)
    [[day]] = deployment.query("SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date - %s", RECONCILED_DAYS_AGO)
    day = day.isoformat()
    bill_date = day.replace("-", "")
    sandbox.clear_bill_changes(bill_date)
    for _ in range(GHOST_PAYMENTS):  # payments WeChat has and we do not: discrepancies to find
        sandbox.change_bill(bill_date, {"应结订单金额": "12.00", "订单金额": "12.00"}, extra=True)
    dying = deployment.beat_and_worker_start(
        app="tests.faults.dying_worker", pool="solo", DIE_ON_LOG="orders.services.reconciliation|bill loaded"
    )

    deployment.shell(RECONCILE.format(day=day))
    wait_for(lambda: not dying.running(), timeout=60, interval=0.2, what="the worker to die mid-reconciliation")
    assert dying.process.returncode == -signal.SIGKILL
    [killed] = _runs(deployment, day)
    assert killed[1] == "running"  # its worker is gone; the row still says running

    deployment.worker_start()
    deployment.shell(RECONCILE.format(day=day))  # the date again, as the next beat run or staff would
    killed_run, resumed = _wait_for_runs(deployment, day, 2)
    deployment.shell(RECONCILE.format(day=day))  # and once more, undisturbed, to compare with
    _, _, undisturbed = _wait_for_runs(deployment, day, 3)

    assert killed_run[1] == "failed"
    assert resumed[1] == undisturbed[1] == "succeeded"
    assert resumed[2:] == undisturbed[2:]
    assert resumed[2] == GHOST_PAYMENTS and resumed[5] >= GHOST_PAYMENTS
    figures(
        "worker SIGKILLed mid-reconciliation (bill loaded, comparing)",
        killed_run="failed (abandoned) at once",
        resumed_run=dict(
            zip(["payment_rows", "refund_rows", "matched", "discrepancies", "repaired"], resumed[2:7], strict=True)
        ),
        same_as_undisturbed_run=resumed[2:] == undisturbed[2:],
    )
