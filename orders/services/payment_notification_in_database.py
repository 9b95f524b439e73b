"""A payment notification applied on PostgreSQL in one round trip: orders_payment_notification_apply(), created
by orders' migration 0028 (its writes in fewer statements since 0031).

The function takes the ORM path's steps under its rules (see the migration); here the notification
goes in, and what comes back becomes the same outcome, or the same refusal, the ORM path gives, with
what the ORM path does in Python after its writes (the order's status signal, the product pages).
"""

import json

from django.db import connection, transaction

from catalog.services import product_detail_cache_invalidate
from config.idempotent_statements import idempotent_statement_run
from config.prepared_statements import prepared_statement_cursor
from orders.models import NotificationOutcome, Order, OrderStatus, PaymentEvent, PaymentStatus
from orders.services.payment_status import PAYMENT_TRANSITIONS
from orders.signals import order_status_entered
from wechat.pay.interface import PaymentNotification as Notice

# What the payment status table lets become paid, for the function to check against.
PAYABLE_STATUSES = sorted(
    str(from_status) for from_status, to_status in PAYMENT_TRANSITIONS if to_status == PaymentStatus.PAID
)
# Bound on the server and prepared once a connection (config.prepared_statements): the arguments, the
# notification's body among them, go as values instead of being quoted into the text in Python.
APPLY_STATEMENT = "SELECT orders_payment_notification_apply(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::text[])"
# The function's refusals: nothing written, nothing stored. A payment made before merchants were rows
# is refused too, for the ORM path to decide with the settings' Mini Program.
UNKNOWN_PAYMENT = "unknown_payment"
SIGN_TYPE_DIFFERS = "sign_type"
MADE_THROUGH_ANOTHER = "made_through"
MADE_BEFORE_MERCHANTS = "made_before_merchants"


def payment_notification_apply_in_database_supported() -> bool:
    return connection.vendor == "postgresql"


def payment_notification_apply_in_database(
    *, notice: Notice, paid_at, reason: str, currency: str
) -> NotificationOutcome | str:
    """Apply and store a verified notification with one statement: its outcome, or the refusal's code."""
    reason_length = PaymentEvent._meta.get_field("reason").max_length
    arguments = [
        notice.out_trade_no,
        notice.transaction_id,
        notice.total_fee,
        notice.result_code,
        notice.fee_type,
        notice.sign_type,
        notice.appid,
        notice.mch_id,
        notice.raw_body,
        paid_at,
        reason[:reason_length],
        currency,
        PAYABLE_STATUSES,
    ]

    def apply():
        with prepared_statement_cursor() as cursor:
            cursor.execute(APPLY_STATEMENT, arguments)
            (result,) = cursor.fetchone()
        return result

    if connection.in_atomic_block:
        # Inside a caller's transaction a savepoint keeps a failure (a transaction id already taken) from aborting it.
        with transaction.atomic():
            result = apply()
    else:
        # Alone, the statement is its own transaction: one round trip, without the connection's health check
        # first, since running it twice changes nothing (a repeat is stored as a duplicate).
        result = idempotent_statement_run(apply)
    # Django's PostgreSQL backend leaves jsonb as text, for JSONField to decode.
    result = json.loads(result) if isinstance(result, str) else result
    if "refused" in result:
        return result["refused"]
    outcome = NotificationOutcome(result["outcome"])
    if outcome == NotificationOutcome.APPLIED:
        product_detail_cache_invalidate(product_ids=result["product_ids"])  # the detail shows sales
        # What the status service tells the rest of the product after an order's move (the buyer's message).
        order_status_entered.send(sender=Order, order_ids=[result["order_id"]], to_status=OrderStatus.PAID)
    return outcome
