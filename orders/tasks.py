from datetime import date, timedelta

from celery import shared_task
from django.contrib.auth import get_user_model

from orders.exceptions import MerchantNotPaidThrough, ReconciliationAlreadyRunning
from orders.models import ReconciliationRunStatus, ReconciliationTrigger
from orders.services.completion import orders_complete_overdue
from orders.services.expiry import orders_expire_overdue
from orders.services.reconciliation import beijing_today, reconciliation_run
from orders.services.refunds import refund_submit, refunds_settle_stale
from orders.services.shipping_report import shipping_report_failure_record, shipping_report_send
from wechat.errors import WeChatTransientError
from wechat.merchants import merchants_taking_payments
from wechat.miniprogram_delivery_companies import delivery_companies_refresh


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


# WeChat makes a day's bill from 9:00 the next day; "Bill Creating" or a busy WeChat fail the run
# as transient, and the date is tried again this much later, a few times, before staff step in.
RECONCILIATION_RETRY_SECONDS = 30 * 60
RECONCILIATION_MAX_RETRIES = 6


# Idempotent (re-running a date changes nothing that was right), so a redelivered message is harmless.
@shared_task(bind=True, acks_late=True, max_retries=RECONCILIATION_MAX_RETRIES)
def reconcile_payments(
    self,
    bill_date: str | None = None,
    triggered_by: str = ReconciliationTrigger.BEAT,
    staff_user_id: int | None = None,
    mch_id: str | None = None,
    run_id: int | None = None,
) -> int | None:
    """Reconcile WeChat Pay's bill of `bill_date` (yyyy-mm-dd; yesterday in Beijing by default); the run's id.

    Without `mch_id`: the settings' merchant here, and every other merchant a Mini Program pays
    through in a task of its own (each retried on its own). With `run_id`: the run the admin
    recorded when staff asked (the settings' merchant's), carried out here.
    """
    day = date.fromisoformat(bill_date) if bill_date else beijing_today() - timedelta(days=1)
    if mch_id is None:
        for other in merchants_taking_payments()[1:]:
            reconcile_payments.delay(
                bill_date=day.isoformat(), triggered_by=triggered_by, staff_user_id=staff_user_id, mch_id=other
            )
    staff_user = get_user_model().objects.filter(pk=staff_user_id).first() if staff_user_id else None
    try:
        run = reconciliation_run(
            bill_date=day, triggered_by=triggered_by, staff_user=staff_user, mch_id=mch_id, run_id=run_id
        )
    except (ReconciliationAlreadyRunning, MerchantNotPaidThrough):
        return None
    if run.status == ReconciliationRunStatus.FAILED and run.error_transient:
        # The date goes with the retry: one retried after midnight still means the same day.
        raise self.retry(
            kwargs={
                "bill_date": day.isoformat(),
                "triggered_by": triggered_by,
                "staff_user_id": staff_user_id,
                "mch_id": run.mch_id,
            },
            countdown=RECONCILIATION_RETRY_SECONDS,
        )
    return run.pk


# Shipping reported to WeChat (小程序发货信息管理服务). Idempotent: a report WeChat has already is not
# sent again, so a redelivered message is harmless. WeChat busy (or not yet knowing a payment just made)
# is retried with backoff; after the last retry the failure is recorded on the order for staff.
SHIPPING_REPORT_MAX_RETRIES = 6


@shared_task(bind=True, acks_late=True, max_retries=SHIPPING_REPORT_MAX_RETRIES)
def report_shipping_to_wechat(self, order_id: int) -> str:
    try:
        return shipping_report_send(order_id=order_id)
    except WeChatTransientError as error:
        if self.request.retries >= self.max_retries:
            shipping_report_failure_record(order_id=order_id, detail=str(error))
            return "gave up"
        raise self.retry(exc=error, countdown=min(5 * 2**self.request.retries, 300)) from error


# Idempotent: a completed order is not claimed again.
@shared_task(acks_late=True)
def complete_delivered_orders() -> int:
    return orders_complete_overdue()


@shared_task(autoretry_for=(WeChatTransientError,), retry_backoff=30, max_retries=3)
def refresh_delivery_companies() -> int:
    return len(delivery_companies_refresh())
