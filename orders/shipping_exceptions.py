"""Refusals of shipping and receipt, raised by orders.services.shipments and orders.services.completion."""

from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError
from config.status_machine import StatusTransitionNotAllowed


class ShippingReportTransitionNotAllowed(StatusTransitionNotAllowed):
    code = "shipping_report_transition_not_allowed"


class CorrectionUsed(ApplicationError):
    status_code = 409
    code = "shipping_correction_used"
    message = _(
        "WeChat lets an order's shipping be changed only once after it is complete, and this order's change is "
        "used: the tracking number cannot be corrected again."
    )


class OrderFullyShipped(ApplicationError):
    status_code = 409
    code = "order_fully_shipped"
    message = _("Every parcel of this order is shipped already: correct a tracking number instead.")


class TooManyParcels(ApplicationError):
    code = "too_many_parcels"
    message = _("WeChat takes at most 15 parcels for one order.")


class CarrierNotAtWeChat(ApplicationError):
    code = "carrier_not_at_wechat"
    message = _("WeChat's carrier list does not have this carrier: choose another.")


class OrderNotShipped(ApplicationError):
    status_code = 409
    code = "order_not_shipped"
    message = _("This order has not shipped yet: its receipt cannot be confirmed.")


class NoParcel(ApplicationError):
    code = "no_parcel"
    message = _("Give at least one parcel's carrier and tracking number, or ship it as virtual goods.")


class VirtualGoodsNotInParcels(ApplicationError):
    status_code = 409
    code = "virtual_goods_not_in_parcels"
    message = _("Virtual goods are delivered at once, not in parcels.")
