"""Shipping an order's parcels (one, several, or virtual goods) and correcting a tracking number.

The first parcel moves the order from paid to shipped through the status machine (order_ship), which
tells the buyer (subscribe_messages, on order_status_entered) once whatever the number of parcels;
every parcel is a Shipment row, unique per order, carrier and number, so shipping the same parcel
again records nothing and tells WeChat nothing. Whatever is new is reported to WeChat by a task
queued on commit (orders.services.shipping_report).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from config.status_machine import StatusActor
from orders.carriers import tracking_number_fits, tracking_number_normalize
from orders.exceptions import OrderTransitionNotAllowed, TrackingNumberInvalid
from orders.models import Carrier, Order, OrderStatus
from orders.services.shipping_report import REPORT_STATUS, shipping_report_mark_pending, wechat_delivery_id
from orders.services.status import ORDER_STATUS, order_ship, order_status_set
from orders.shipment_models import Shipment, ShippingReport
from orders.shipping_exceptions import (
    CarrierNotAtWeChat,
    CorrectionUsed,
    NoParcel,
    OrderFullyShipped,
    TooManyParcels,
    VirtualGoodsNotInParcels,
)
from orders.shipping_signals import order_shipped
from wechat.miniprogram_shipping import MAX_PARCELS


@dataclass(frozen=True)
class ParcelInput:
    carrier: str
    tracking_number: str


def _checked(parcel: ParcelInput) -> ParcelInput:
    tracking_number = tracking_number_normalize(parcel.tracking_number)
    if not tracking_number_fits(carrier=parcel.carrier, tracking_number=tracking_number):
        raise TrackingNumberInvalid(carrier_name=Carrier(parcel.carrier).label, tracking_number=tracking_number)
    if not wechat_delivery_id(parcel.carrier):
        raise CarrierNotAtWeChat()
    return ParcelInput(carrier=parcel.carrier, tracking_number=tracking_number)


@transaction.atomic
def order_parcels_ship(
    *,
    order: Order,
    parcels: Sequence[ParcelInput],
    staff_user: AbstractBaseUser,
    more_to_follow: bool = False,
    virtual: bool = False,
) -> list[Shipment]:
    """Record parcels (or, `virtual`, a delivery without one) for a paid order, or more for a split one.

    `more_to_follow`: the order is shipping in several parcels and these are not the last. Returns the
    parcels new this time: none when every one was recorded already. Raises TrackingNumberInvalid,
    OrderTransitionNotAllowed (not paid), OrderFullyShipped (all shipped before), TooManyParcels.
    """
    checked = [] if virtual else [_checked(parcel) for parcel in parcels]
    if not virtual and not checked:
        raise NoParcel()
    locked = ORDER_STATUS.lock(order.pk)
    report = ShippingReport.objects.filter(order=locked).first()
    # Partly refunded before it shipped, an order may still ship (the status machine allows it).
    first_shipment = locked.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED) and not locked.shipped_at
    if first_shipment:
        if virtual:
            order_status_set(
                order=locked,
                to_status=OrderStatus.SHIPPED,
                actor=StatusActor.STAFF,
                staff_user=staff_user,
                reason=_("virtual goods delivered"),
                extra_fields={"shipped_at": timezone.now()},
            )
        else:
            first = checked[0]
            order_ship(
                order=locked, carrier=first.carrier, tracking_number=first.tracking_number, staff_user=staff_user
            )
    elif virtual:
        raise VirtualGoodsNotInParcels()
    elif locked.status != OrderStatus.SHIPPED or report is None:
        # Not paid, refunded, completed, or shipped before parcels were recorded.
        raise OrderTransitionNotAllowed(
            from_status=locked.status,
            to_status=OrderStatus.SHIPPED,
            actor=StatusActor.STAFF,
            status_labels=dict(OrderStatus.choices),
        )
    existing = {(shipment.carrier, shipment.tracking_number) for shipment in Shipment.objects.filter(order=locked)}
    wanted = [("", "")] if virtual else [(parcel.carrier, parcel.tracking_number) for parcel in checked]
    new = [key for key in dict.fromkeys(wanted) if key not in existing]
    if not new and (report is None or report.all_delivered == (not more_to_follow)):
        return []  # the same parcels again: nothing recorded, nothing to tell WeChat
    if new and report is not None and report.all_delivered:
        raise OrderFullyShipped()
    if len(existing) + len(new) > MAX_PARCELS:
        raise TooManyParcels()
    shipments = Shipment.objects.bulk_create(
        Shipment(order=locked, carrier=carrier, delivery_id=wechat_delivery_id(carrier), tracking_number=number)
        for carrier, number in new
    )
    numbers = "、".join(number for _carrier, number in new) or _("virtual goods")
    shipping_report_mark_pending(
        order=locked,
        all_delivered=virtual or not more_to_follow,
        staff_user=staff_user,
        reason=_("shipped: %(numbers)s") % {"numbers": numbers},
    )
    shipment_ids = [shipment.pk for shipment in shipments]
    all_delivered = virtual or not more_to_follow
    transaction.on_commit(
        lambda: order_shipped.send(
            sender=Order, order_id=locked.pk, shipment_ids=shipment_ids, all_delivered=all_delivered
        )
    )
    return shipments


@transaction.atomic
def shipment_tracking_correct(*, shipment: Shipment, tracking_number: str, staff_user: AbstractBaseUser) -> Shipment:
    """Replace a parcel's tracking number, and tell WeChat.

    WeChat allows one re-shipping a payment once its shipping is complete (每笔支付单仅有一次重新发货机会):
    a correction then spends it, and a second is refused (CorrectionUsed). Before WeChat has the whole
    shipping, a correction is an ordinary update and spends nothing.
    """
    ORDER_STATUS.lock(shipment.order_id)
    report = REPORT_STATUS.lock(ShippingReport.objects.get(order_id=shipment.order_id).pk)
    locked = Shipment.objects.select_for_update().get(pk=shipment.pk)
    number = _checked(ParcelInput(carrier=locked.carrier, tracking_number=tracking_number)).tracking_number
    if number == locked.tracking_number:
        return locked
    spends_wechat_change = report.all_delivered and bool(report.reported_digest)
    if spends_wechat_change and report.correction_used:
        raise CorrectionUsed()
    if spends_wechat_change:
        report.correction_used = True
        report.save(update_fields=["correction_used", "updated_at"])
    old = locked.tracking_number
    locked.replaced_tracking_number, locked.tracking_number = old, number
    locked.corrected_at = timezone.now()
    locked.save(update_fields=["replaced_tracking_number", "tracking_number", "corrected_at"])
    # The order's own fields name its first parcel, as the API shows it.
    Order.objects.filter(pk=locked.order_id, tracking_number=old).update(tracking_number=number)
    shipping_report_mark_pending(
        order=report.order,
        all_delivered=report.all_delivered,
        staff_user=staff_user,
        reason=_("tracking number corrected: %(old)s → %(new)s") % {"old": old, "new": number},
    )
    return locked
