from celery import shared_task

from customers.services import customer_tokens_purge_expired


@shared_task(acks_late=True)
def purge_expired_customer_tokens() -> int:
    return customer_tokens_purge_expired()
