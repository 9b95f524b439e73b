"""A payment is marked paid under its order's row lock, then its own, taken in one statement, in that order.

Every payment path locks the order first, so none deadlocks another; reading both in one statement
must keep that order (PostgreSQL locks a statement's rows in the order its FROM names the tables).
Shown here: while another transaction holds the payment's row, the one marking it paid already
holds the order's row, and finishes once the payment's is free.
"""

import threading
import time
from datetime import datetime

import pytest
from django.db import OperationalError, connection, transaction

from orders.models import Order, OrderStatus, Payment
from orders.services.payments import PaidOutcome, payment_paid_record
from tests import real_services

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]


def test_the_order_is_locked_before_the_payment(sku, place_order):
    real_services.require(connection.vendor == "postgresql", "PostgreSQL as DATABASE_URL")
    order = place_order([(sku, 1)])
    payment = Payment.objects.create(order=order, out_trade_no=f"{order.order_no}01", amount_fen=order.total_fen)
    payment_held, release_payment = threading.Event(), threading.Event()
    outcome: list[PaidOutcome] = []

    def hold_the_payment() -> None:
        with transaction.atomic():
            Payment.objects.select_for_update().get(pk=payment.pk)
            payment_held.set()
            release_payment.wait(timeout=30)
        connection.close()

    def mark_paid() -> None:
        outcome.append(
            payment_paid_record(
                out_trade_no=payment.out_trade_no,
                transaction_id="4200002026120512345678901234",
                amount_fen=payment.amount_fen,
                paid_at=datetime.now().astimezone(),
                reason="test",
            )
        )
        connection.close()

    holder = threading.Thread(target=hold_the_payment)
    holder.start()
    assert payment_held.wait(timeout=30)
    marker = threading.Thread(target=mark_paid)
    marker.start()
    try:
        _wait_until_a_transaction_waits_for_a_lock()  # the marker, for the payment's row

        with pytest.raises(OperationalError), transaction.atomic():  # the marker holds the order's row
            Order.objects.select_for_update(nowait=True).get(pk=order.pk)
    finally:
        release_payment.set()
        holder.join(timeout=30)
        marker.join(timeout=30)

    assert outcome == [PaidOutcome.APPLIED]
    assert Order.objects.get(pk=order.pk).status == OrderStatus.PAID


def _wait_until_a_transaction_waits_for_a_lock() -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("no transaction waited for the payment's row")
