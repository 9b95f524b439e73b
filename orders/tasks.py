from celery import shared_task

from orders.services.status import orders_expire_overdue


# Idempotent (an order expires once, under its row lock), so a redelivered message is harmless.
@shared_task(acks_late=True)
def expire_unpaid_orders() -> int:
    return orders_expire_overdue()
