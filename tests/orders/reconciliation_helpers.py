"""Helpers for the reconciliation tests: orders paid (here or at the sandbox), the sandbox's clock and bills."""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta

import pytest
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import translation

from orders.models import Payment, PaymentStatus, RefundStatus
from orders.services.payments import PaidOutcome, payment_paid_record
from orders.services.placement import order_create
from orders.services.reconciliation import BEIJING
from orders.services.reconciliation_lock import RECONCILIATION_LOCK_SPACE
from tests.factories import AddressFactory, PaymentFactory, RefundFactory, SkuFactory
from wechat.pay.gateway import payment_gateway

# The sandbox's notifications go nowhere: these tests record payments themselves, or leave them unrecorded.
NOWHERE = "http://127.0.0.1:9/wechat/pay/notify/"


def sample_lines(wechat_sample) -> list[str]:
    return wechat_sample("bill-sample.csv").decode().split("\r\n")


def order_of(total_fen: int):
    """An order of one SKU costing `total_fen`, placed through order_create."""
    address = AddressFactory()
    sku = SkuFactory(price_fen=total_fen, stock=5)
    return order_create(customer=address.customer, address_id=address.pk, items=[{"sku_id": sku.pk, "quantity": 1}])


def paid_payment(out_trade_no: str, amount_fen: int, transaction_id: str, paid_at: datetime) -> Payment:
    return PaymentFactory(
        order=order_of(amount_fen),
        out_trade_no=out_trade_no,
        amount_fen=amount_fen,
        status=PaymentStatus.PAID,
        transaction_id=transaction_id,
        paid_at=paid_at,
    )


def sandbox_now(sandbox) -> datetime:
    return datetime.fromtimestamp(sandbox.advance_clock(0)["now"], BEIJING)


def advance_to(sandbox, moment: datetime) -> None:
    sandbox.advance_clock(max(0.0, (moment - sandbox_now(sandbox)).total_seconds()))


def next_morning(day: date, *, hour: int = 10, minute: int = 1) -> datetime:
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), BEIJING).replace(hour=hour, minute=minute)


def prepaid(order) -> Payment:
    payment_gateway().prepay(
        out_trade_no=order.order_no,
        total_fee=order.total_fen,
        openid=order.customer.openid,
        body="Ceramic mug",
        notify_url=NOWHERE,
        time_expire=order.expires_at,
        client_ip="127.0.0.1",
    )
    return PaymentFactory(order=order)


def _notification_words() -> str:
    """The reason a payment notification writes on the timeline, in the site's language as it writes it."""
    with translation.override(settings.LANGUAGE_CODE):
        return translation.gettext("WeChat Pay payment notification")


def paid_at_wechat(sandbox, order, *, recorded: bool = True) -> Payment:
    """Prepaid through the gateway and paid by the customer in the sandbox; recorded paid as a notification would."""
    payment = prepaid(order)
    paid = sandbox.pay_order(order.order_no)["order"]
    if recorded:
        outcome = payment_paid_record(
            out_trade_no=payment.out_trade_no,
            transaction_id=paid["transaction_id"],
            amount_fen=payment.amount_fen,
            paid_at=datetime.strptime(paid["time_end"], "%Y%m%d%H%M%S").replace(tzinfo=BEIJING),
            reason=_notification_words(),
        )
        assert outcome == PaidOutcome.APPLIED
    payment.refresh_from_db()
    return payment


def refunded_at_wechat(payment: Payment, amount_fen: int, *, status: str) -> str:
    out_refund_no = f"R{payment.out_trade_no}"
    answer = payment_gateway().refund(
        out_trade_no=payment.out_trade_no,
        out_refund_no=out_refund_no,
        total_fee=payment.amount_fen,
        refund_fee=amount_fen,
    )
    RefundFactory(
        payment=payment, out_refund_no=out_refund_no, amount_fen=amount_fen, status=status, refund_id=answer.refund_id
    )
    return out_refund_no


def bill_ready(sandbox, day: date) -> None:
    """The clock moved to 10:01 the next morning, when WeChat's bill of `day` is ready."""
    if sandbox_now(sandbox).date() != day:
        pytest.skip("the Beijing day changed while the bill's trades were made")
    advance_to(sandbox, next_morning(day))


def sample_day_record() -> None:
    """Our side of the sample bill's day: the three payments and the refund, all as WeChat has them."""
    at = datetime(2026, 11, 22, 9, 15, 2, tzinfo=BEIJING)
    paid_payment("20261122091458000001", 3990, "4200002026112211110000000001", at)
    tea = paid_payment("20261122114010000002", 12800, "4200002026112211110000000002", at + timedelta(hours=2))
    paid_payment("20261122200501000003", 1090, "4200002026112211110000000003", at + timedelta(hours=11))
    RefundFactory(
        payment=tea,
        out_refund_no="R20261122213000000001",
        amount_fen=2800,
        status=RefundStatus.SUCCEEDED,
        refund_id="50002026112201234567890",
    )


@contextmanager
def another_worker_reconciling(bill_date: date, mch_id: str) -> Iterator[None]:
    """Another process holding the date's reconciliation lock on its own connection, as a live run does.

    On SQLite there is no such lock: a running row alone holds the date (reconciliation_lock.py).
    """
    other = connections.create_connection(DEFAULT_DB_ALIAS)
    backend_pid = None
    try:
        if other.vendor == "postgresql":
            with other.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_lock(%s, hashtext(%s)), pg_backend_pid()",
                    [RECONCILIATION_LOCK_SPACE, f"{bill_date.isoformat()}/{mch_id}"],
                )
                _, backend_pid = cursor.fetchone()
        yield
    finally:
        other.close()  # as the process dying would: PostgreSQL lets the lock go with the connection
        if backend_pid is not None:
            _backend_gone_wait(backend_pid)


def _backend_gone_wait(pid: int, timeout_seconds: float = 10.0) -> None:
    """Wait for a closed connection's backend to exit: its locks go when it does, a moment after the close
    returns (longer on a loaded machine), as a dead worker's do before the next run starts."""
    deadline = time.monotonic() + timeout_seconds
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        while time.monotonic() < deadline:
            # The test's transaction would read one snapshot of the statistics for its whole length.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
            if cursor.fetchone() is None:
                return
            time.sleep(0.01)
    raise AssertionError(f"PostgreSQL backend {pid} still running {timeout_seconds} s after its connection closed")
