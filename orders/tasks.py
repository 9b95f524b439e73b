from celery import shared_task

from orders.services.refunds import refund_submit, refunds_settle_stale
from orders.services.status import orders_expire_overdue
from wechat.errors import WeChatTransientError


# Idempotent (an order expires once, under its row lock), so a redelivered message is harmless.
@shared_task(acks_late=True)
def expire_unpaid_orders() -> int:
    return orders_expire_overdue()


# Idempotent: a refund no longer requested is skipped, and its out_refund_no makes WeChat answer a
# repeat with the same refund. Transient errors (WeChat busy or unreachable) retry with backoff; a
# refund still requested after them is submitted again by settle_stale_refunds.
@shared_task(
    acks_late=True,
    autoretry_for=(WeChatTransientError,),
    retry_backoff=5,
    retry_backoff_max=300,
    max_retries=5,
)
def submit_refund(refund_id: int) -> None:
    refund_submit(refund_id=refund_id)


@shared_task(acks_late=True)
def settle_stale_refunds() -> int:
    return refunds_settle_stale()
