from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.errors import ApplicationError, ServiceUnavailable
from config.money import format_fen
from config.status_machine import StatusTransitionNotAllowed


class NotFound(ApplicationError):
    """Missing, or another customer's: the two answer alike so ids reveal nothing."""

    status_code = 404
    code = "not_found"
    message = _("Not found.")


class OrderNotFound(NotFound):
    message = _("No such order.")


class CartItemNotFound(NotFound):
    message = _("No such item in your cart.")


class AddressNotFound(NotFound):
    message = _("No such address in your address book.")


class InsufficientStock(ApplicationError):
    status_code = 409
    code = "insufficient_stock"
    message = _("Not enough stock.")

    def __init__(self, *, sku_id: int, title: str, stock_left: int):
        super().__init__(
            _("Only %(stock_left)d left of “%(title)s”.") % {"stock_left": stock_left, "title": title}
            if stock_left
            else _("“%(title)s” is out of stock.") % {"title": title},
            # Numbers, not messages: the client reads which SKU and how many are left.
            fields={"sku_id": sku_id, "stock_left": stock_left},
        )


class SkuUnavailable(ApplicationError):
    status_code = 409
    code = "sku_unavailable"
    message = _("This item is no longer for sale.")

    def __init__(self, *, sku_id: int):
        super().__init__(fields={"sku_id": sku_id})


class EmptyOrder(ApplicationError):
    code = "empty_order"
    message = _("An order needs at least one item.")


class AddressRequired(ApplicationError):
    code = "address_required"
    message = _("Choose a delivery address from your address book.")

    def __init__(self):
        super().__init__(fields={"address_id": [_("Choose an address from your address book.")]})


class AddressBookFull(ApplicationError):
    code = "address_book_full"
    message = _("Your address book is full. Delete an address before adding another.")


class QuantityTooLarge(ApplicationError):
    code = "invalid"

    def __init__(self, *, limit: int):
        super().__init__(
            _("Some fields are invalid."),
            fields={"quantity": [_("A line holds at most %(limit)d of one item.") % {"limit": limit}]},
        )


class IdempotencyKeyInvalid(ApplicationError):
    code = "invalid"

    def __init__(self):
        super().__init__(
            _("Some fields are invalid."),
            fields={"Idempotency-Key": [_("Up to 64 printable ASCII characters, e.g. a UUID.")]},
        )


class IdempotencyKeyReused(ApplicationError):
    status_code = 422
    code = "idempotency_key_reused"
    message = _("This Idempotency-Key was already used for a different order. Use a new key for a new order.")


class OrderTransitionNotAllowed(StatusTransitionNotAllowed):
    code = "order_transition_not_allowed"
    message_template = _("An order that is {from_status} cannot become {to_status} by the {actor}.")


class PaymentTransitionNotAllowed(StatusTransitionNotAllowed):
    """A bug, not a user error: callers check the payment's status under its lock before asking for a change."""

    code = "payment_transition_not_allowed"
    message_template = _("A {from_status} payment cannot become {to_status}.")


class RefundTransitionNotAllowed(StatusTransitionNotAllowed):
    """A bug, not a user error: callers check the refund's status under its lock before asking for a change."""

    code = "refund_transition_not_allowed"
    message_template = _("A {from_status} refund cannot become {to_status}.")


class OrderNotCancellable(ApplicationError):
    status_code = 409
    code = "order_not_cancellable"
    message = _("Only an order awaiting payment can be cancelled.")


class OrderNotPayable(ApplicationError):
    status_code = 409
    code = "order_not_payable"
    message = _("This order can no longer be paid.")


class PaymentUnavailable(ServiceUnavailable):
    code = "wechat_unavailable"
    message = _("WeChat Pay is busy right now. Please try again in a moment.")


class PaymentMisconfigured(ServiceUnavailable):
    code = "wechat_misconfigured"
    message = _("Paying is unavailable: this shop is misconfigured for WeChat Pay. Its operators have been alerted.")


class PaymentNotRefundable(ApplicationError):
    status_code = 409
    code = "payment_not_refundable"
    message = _("Only a paid order can be refunded.")


class RefundAmountInvalid(ApplicationError):
    code = "invalid"

    def __init__(self, message: str):
        super().__init__(_("Some fields are invalid."), fields={"amount_fen": [message]})


class RefundExceedsPaid(ApplicationError):
    status_code = 409
    code = "refund_exceeds_paid"

    def __init__(self, *, requested_fen: int, refundable_fen: int):
        self.refundable_fen = refundable_fen
        super().__init__(
            _("A refund of %(requested)s is more than the %(refundable)s left to refund of this payment.")
            % {"requested": format_fen(requested_fen), "refundable": format_fen(refundable_fen)},
            fields={
                "amount_fen": [
                    _("At most %(refundable)s can be refunded.") % {"refundable": format_fen(refundable_fen)}
                ]
            },
        )


class RefundNotificationRejected(ApplicationError):
    """A decrypted refund notification that does not match our refund: answered FAIL and left for staff."""

    code = "refund_notification_rejected"


class ReconciliationAlreadyRunning(ApplicationError):
    status_code = 409
    code = "reconciliation_running"

    def __init__(self, *, bill_date):
        super().__init__(
            _("%(bill_date)s is being reconciled now; wait for that run to finish.") % {"bill_date": bill_date}
        )


class MerchantNotPaidThrough(ApplicationError):
    status_code = 404
    code = "merchant_not_paid_through"

    def __init__(self, *, mch_id):
        super().__init__(
            _("No Mini Program pays through merchant %(mch_id)s: there is no bill of ours to reconcile.")
            % {"mch_id": mch_id}
        )


class ReconciliationRunTransitionNotAllowed(StatusTransitionNotAllowed):
    """A bug, not a user error: only reconciliation itself starts, finishes and abandons its runs."""

    code = "reconciliation_run_transition_not_allowed"
    message_template = _("A {from_status} reconciliation run cannot become {to_status}.")


class DiscrepancyAlreadyResolved(StatusTransitionNotAllowed):
    """The discrepancy status machine's refusal: resolving, its one move, is final, so it refuses a resolved one."""

    code = "discrepancy_resolved"
    message_template = _("This discrepancy is resolved already.")


class TrackingNumberInvalid(ApplicationError):
    code = "tracking_number_invalid"

    def __init__(self, *, carrier_name: str, tracking_number: str):
        message = _("“%(number)s” is not a %(carrier)s tracking number.") % {
            "number": tracking_number,
            "carrier": carrier_name,
        }
        super().__init__(message, fields={"tracking_number": [message]})


class ShipmentSheetInvalid(ApplicationError):
    """A shipping sheet with rows that cannot be shipped: nothing was shipped, each row's problems are listed."""

    code = "shipment_sheet_invalid"

    def __init__(self, *, row_errors: dict[int, list[str]]):
        self.row_errors = row_errors
        super().__init__(
            ngettext(
                "Nothing was shipped: %(count)d row cannot be shipped.",
                "Nothing was shipped: %(count)d rows cannot be shipped.",
                len(row_errors),
            )
            % {"count": len(row_errors)}
        )


class ShipmentSheetUnreadable(ApplicationError):
    code = "shipment_sheet_unreadable"
