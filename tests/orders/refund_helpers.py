"""A paid order to refund: paid at the sandbox through its control API, recorded paid as its notification would be."""

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from config.celery import app as celery_app
from orders.models import Order, Payment
from orders.services.payments import PaidOutcome, payment_paid_record
from tests.factories import PaymentFactory
from wechat.pay.gateway import payment_gateway

# The payment notification goes nowhere: these tests record the payment themselves.
NOWHERE = "http://127.0.0.1:9/wechat/pay/notify/"


def paid_payment(sandbox, order: Order) -> Payment:
    payment_gateway().prepay(
        out_trade_no=order.order_no,
        total_fee=order.total_fen,
        openid=order.customer.openid,
        body="Ceramic mug",
        notify_url=NOWHERE,
        time_expire=order.expires_at,
        client_ip="127.0.0.1",
    )
    paid = sandbox.pay_order(order.order_no)["order"]
    payment = PaymentFactory(order=order)
    outcome = payment_paid_record(
        out_trade_no=payment.out_trade_no,
        transaction_id=paid["transaction_id"],
        amount_fen=payment.amount_fen,
        paid_at=timezone.now(),
        reason="paid in the sandbox",
    )
    assert outcome == PaidOutcome.APPLIED
    payment.refresh_from_db()
    return payment


@pytest.fixture
def tasks_run_eagerly():
    """Tasks queued on commit run at once in this process, as a worker would run them (transactional tests)."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def order_tasks_to_the_test_worker(monkeypatch):
    """The `orders` queue's tasks go to this run's queue, which the test worker consumes."""

    def route(name, *args, **kwargs):
        return {"queue": django_settings.CELERY_TASK_DEFAULT_QUEUE} if name.startswith("orders.tasks.") else None

    monkeypatch.setattr(celery_app.amqp.router, "routes", [route])
