import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.celery import app as celery_app
from orders.models import Order, OrderActor, OrderStatus
from orders.services.expiry import orders_expire_overdue
from orders.services.refunds import SUBMIT_REFUND_TASK
from orders.tasks import expire_unpaid_orders, submit_refund


def _overdue(order: Order) -> Order:
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return order


@pytest.mark.django_db
def test_overdue_unpaid_orders_expire_and_return_their_stock(sku, place_order):
    overdue = _overdue(place_order([(sku, 2)]))
    not_yet_due = place_order([(sku, 3)])
    paid = _overdue(place_order([(sku, 1)]))
    Order.objects.filter(pk=paid.pk).update(status=OrderStatus.PAID)

    assert orders_expire_overdue() == 1

    statuses = dict(Order.objects.values_list("pk", "status"))
    assert statuses == {overdue.pk: "expired", not_yet_due.pk: "pending_payment", paid.pk: "paid"}
    event = overdue.events.latest("id")
    assert (event.from_status, event.to_status, event.actor) == ("pending_payment", "expired", OrderActor.SYSTEM)
    sku.refresh_from_db()
    assert sku.stock == 10 - 3 - 1


@pytest.mark.django_db
def test_a_second_run_finds_nothing_and_returns_no_stock(sku, place_order):
    _overdue(place_order([(sku, 2)]))

    assert orders_expire_overdue() == 1
    assert orders_expire_overdue() == 0

    sku.refresh_from_db()
    assert sku.stock == 10


@pytest.mark.django_db
def test_expiry_works_in_batches_and_leaves_the_rest_for_the_next_run(sku, place_order):
    orders = [_overdue(place_order([(sku, 1)])) for _ in range(5)]

    assert orders_expire_overdue(batch_size=2, max_batches=2) == 4
    assert Order.objects.filter(status=OrderStatus.PENDING_PAYMENT).count() == 1
    assert orders_expire_overdue(batch_size=2) == 1

    assert Order.objects.filter(pk__in=[order.pk for order in orders], status="expired").count() == 5
    sku.refresh_from_db()
    assert sku.stock == 10


@pytest.mark.django_db
def test_expiry_is_scheduled_every_minute_on_the_orders_queue():
    task = PeriodicTask.objects.get(task="orders.tasks.expire_unpaid_orders")

    assert task.enabled
    assert (task.interval.every, task.interval.period, task.queue) == (1, "minutes", "orders")


def test_order_tasks_are_routed_to_the_orders_queue():
    route = celery_app.amqp.router.route({}, expire_unpaid_orders.name)

    assert route["queue"].name == "orders"


def _finished_expiry_runs() -> int:
    """How many expiry tasks the test worker has finished, from its log ("Task <name>[<id>] succeeded in ...")."""
    log = (settings.VAR_DIR / "test-celery-worker.log").read_text()
    return sum(1 for line in log.splitlines() if f"Task {expire_unpaid_orders.name}[" in line and "succeeded" in line)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_expires_an_overdue_order_once_though_the_task_runs_twice(celery_worker, sku, place_order):
    order = _overdue(place_order([(sku, 4)]))
    finished_before = _finished_expiry_runs()

    # The test worker consumes this run's own queue, not `orders`, so the messages are sent there.
    for _ in range(2):
        expire_unpaid_orders.apply_async(queue=settings.CELERY_TASK_DEFAULT_QUEUE)

    deadline = time.monotonic() + 30
    while _finished_expiry_runs() < finished_before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _finished_expiry_runs() == finished_before + 2
    assert Order.objects.get(pk=order.pk).status == OrderStatus.EXPIRED
    assert order.events.filter(to_status=OrderStatus.EXPIRED).count() == 1
    sku.refresh_from_db()
    assert sku.stock == 10


def test_the_refund_services_queue_the_submit_task_by_its_registered_name():
    assert submit_refund.name == SUBMIT_REFUND_TASK
    assert SUBMIT_REFUND_TASK in celery_app.tasks
