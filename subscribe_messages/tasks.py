from celery import shared_task

from subscribe_messages.services.sending import subscribe_message_send_for_order

# WeChat busy or unreachable: tried again after 10, 20, 40 and 80 seconds, then recorded as given up.
MAX_RETRIES = 4
RETRY_BASE_SECONDS = 10


# Idempotent: the message row of an order and event is claimed before WeChat is asked, so a
# redelivered or repeated task sends nothing new (acks_late is safe).
@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def send_subscribe_message(self, order_id: int, milestone: str) -> None:
    retry_due = subscribe_message_send_for_order(
        order_id=order_id,
        milestone=milestone,
        task_id=self.request.id or "",
        final_attempt=self.request.retries >= MAX_RETRIES,
    )
    if retry_due:
        raise self.retry(countdown=RETRY_BASE_SECONDS * 2**self.request.retries)
