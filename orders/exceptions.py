from config.errors import ApplicationError, ServiceUnavailable
from config.money import format_fen
from config.status_machine import StatusTransitionNotAllowed


class NotFound(ApplicationError):
    """Missing, or another customer's: the two answer alike so ids reveal nothing."""

    status_code = 404
    code = "not_found"
    message = "Not found."


class OrderNotFound(NotFound):
    message = "No such order."


class CartItemNotFound(NotFound):
    message = "No such item in your cart."


class AddressNotFound(NotFound):
    message = "No such address in your address book."


class InsufficientStock(ApplicationError):
    status_code = 409
    code = "insufficient_stock"
    message = "Not enough stock."

    def __init__(self, *, sku_id: int, title: str, stock_left: int):
        super().__init__(
            f"Only {stock_left} left of “{title}”." if stock_left else f"“{title}” is out of stock.",
            fields={"sku_id": [str(sku_id)], "stock_left": [str(stock_left)]},
        )


class SkuUnavailable(ApplicationError):
    status_code = 409
    code = "sku_unavailable"
    message = "This item is no longer for sale."

    def __init__(self, *, sku_id: int):
        super().__init__(fields={"sku_id": [str(sku_id)]})


class EmptyOrder(ApplicationError):
    code = "empty_order"
    message = "An order needs at least one item."


class AddressRequired(ApplicationError):
    code = "address_required"
    message = "Choose a delivery address from your address book."


class AddressBookFull(ApplicationError):
    code = "address_book_full"
    message = "Your address book is full. Delete an address before adding another."


class QuantityTooLarge(ApplicationError):
    code = "invalid"

    def __init__(self, *, limit: int):
        super().__init__(
            "Some fields are invalid.", fields={"quantity": [f"A line holds at most {limit} of one item."]}
        )


class IdempotencyKeyInvalid(ApplicationError):
    code = "invalid"

    def __init__(self):
        super().__init__(
            "Some fields are invalid.",
            fields={"Idempotency-Key": ["Up to 64 printable ASCII characters, e.g. a UUID."]},
        )


class IdempotencyKeyReused(ApplicationError):
    status_code = 422
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was already used for a different order. Use a new key for a new order."


class OrderTransitionNotAllowed(StatusTransitionNotAllowed):
    code = "order_transition_not_allowed"
    message_template = "An order that is {from_status} cannot become {to_status} by the {actor}."


class PaymentTransitionNotAllowed(StatusTransitionNotAllowed):
    """A bug, not a user error: callers check the payment's status under its lock before asking for a change."""

    code = "payment_transition_not_allowed"
    message_template = "A {from_status} payment cannot become {to_status}."


class RefundTransitionNotAllowed(StatusTransitionNotAllowed):
    """A bug, not a user error: callers check the refund's status under its lock before asking for a change."""

    code = "refund_transition_not_allowed"
    message_template = "A {from_status} refund cannot become {to_status}."


class OrderNotCancellable(ApplicationError):
    status_code = 409
    code = "order_not_cancellable"
    message = "Only an order awaiting payment can be cancelled."


class OrderNotPayable(ApplicationError):
    status_code = 409
    code = "order_not_payable"
    message = "This order can no longer be paid."


class PaymentUnavailable(ServiceUnavailable):
    code = "wechat_unavailable"
    message = "WeChat Pay is busy right now. Please try again in a moment."


class PaymentMisconfigured(ServiceUnavailable):
    code = "wechat_misconfigured"
    message = "Paying is unavailable: this shop is misconfigured for WeChat Pay. Its operators have been alerted."


class PaymentNotRefundable(ApplicationError):
    status_code = 409
    code = "payment_not_refundable"
    message = "Only a paid order can be refunded."


class RefundAmountInvalid(ApplicationError):
    code = "invalid"

    def __init__(self, message: str):
        super().__init__("Some fields are invalid.", fields={"amount_fen": [message]})


class RefundExceedsPaid(ApplicationError):
    status_code = 409
    code = "refund_exceeds_paid"

    def __init__(self, *, requested_fen: int, refundable_fen: int):
        self.refundable_fen = refundable_fen
        super().__init__(
            f"A refund of {format_fen(requested_fen)} is more than the {format_fen(refundable_fen)} "
            "left to refund of this payment.",
            fields={"amount_fen": [f"At most {format_fen(refundable_fen)} can be refunded."]},
        )


class RefundNotificationRejected(ApplicationError):
    """A decrypted refund notification that does not match our refund: answered FAIL and left for staff."""

    code = "refund_notification_rejected"


class ReconciliationAlreadyRunning(ApplicationError):
    status_code = 409
    code = "reconciliation_running"

    def __init__(self, *, bill_date):
        super().__init__(f"{bill_date} is being reconciled now; wait for that run to finish.")


class MerchantNotPaidThrough(ApplicationError):
    status_code = 404
    code = "merchant_not_paid_through"

    def __init__(self, *, mch_id):
        super().__init__(f"No Mini Program pays through merchant {mch_id}: there is no bill of ours to reconcile.")


class ReconciliationRunTransitionNotAllowed(StatusTransitionNotAllowed):
    """A bug, not a user error: only reconciliation itself starts, finishes and abandons its runs."""

    code = "reconciliation_run_transition_not_allowed"
    message_template = "A {from_status} reconciliation run cannot become {to_status}."


class DiscrepancyAlreadyResolved(StatusTransitionNotAllowed):
    """The discrepancy status machine's refusal: resolving, its one move, is final, so it refuses a resolved one."""

    code = "discrepancy_resolved"
    message_template = "This discrepancy is resolved already."
