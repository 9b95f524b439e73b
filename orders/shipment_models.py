"""Parcels and what WeChat's shipping service (小程序发货信息管理服务) has been told of them.

Imported by orders.models, so Django sees these models as the orders app's.

An order ships as one parcel, as several (分拆发货: WeChat takes up to 15 for one payment), or as
virtual goods with no parcel at all. `ShippingReport` is one per order: whether WeChat has the
order's shipping as it is now, WeChat's last refusal in staff's words, and whether the one
re-shipping WeChat allows a payment (每笔支付单仅有一次重新发货机会) has been spent on a correction.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.status_machine import StatusEvent


class Shipment(models.Model):
    """One parcel of an order (or, for virtual goods, the one delivery with no parcel)."""

    order = models.ForeignKey(
        "orders.Order", on_delete=models.CASCADE, related_name="shipments", verbose_name=_("order")
    )
    # Blank for virtual goods. Our carrier code (orders.models.Carrier) and WeChat's delivery_id for it then.
    carrier = models.CharField(max_length=16, blank=True, verbose_name=_("carrier"))
    delivery_id = models.CharField(max_length=32, blank=True, verbose_name=_("WeChat carrier id"))
    tracking_number = models.CharField(max_length=40, blank=True, verbose_name=_("tracking number"))
    # A correction keeps the number it replaced: what the buyer may have been told before.
    replaced_tracking_number = models.CharField(max_length=40, blank=True, verbose_name=_("replaced tracking number"))
    shipped_at = models.DateTimeField(auto_now_add=True, verbose_name=_("shipped at"))
    corrected_at = models.DateTimeField(null=True, blank=True, verbose_name=_("corrected at"))

    class Meta:
        ordering = ["shipped_at", "id"]
        verbose_name = _("parcel")
        verbose_name_plural = _("parcels")
        constraints = [
            # The same parcel shipped twice is one parcel: the second time records, and reports, nothing new.
            models.UniqueConstraint(
                fields=["order", "carrier", "tracking_number"],
                condition=~Q(tracking_number=""),
                name="orders_shipment_one_row_per_parcel",
            ),
            models.UniqueConstraint(
                fields=["order"], condition=Q(tracking_number=""), name="orders_shipment_one_virtual_delivery"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}".strip() or "—"


class ShippingReportStatus(models.TextChoices):
    PENDING = "pending", _("waiting to tell WeChat")
    REPORTED = "reported", _("WeChat has it")
    FAILED = "failed", _("WeChat refused it")


class ShippingReport(models.Model):
    """Whether WeChat's shipping service has this order's shipping; changed only by its status service."""

    order = models.OneToOneField(
        "orders.Order", on_delete=models.CASCADE, related_name="shipping_report", verbose_name=_("order")
    )
    status = models.CharField(
        max_length=16,
        choices=ShippingReportStatus.choices,
        default=ShippingReportStatus.PENDING,
        verbose_name=_("status"),
    )
    # False while more parcels are to come (分拆发货 with is_all_delivered false).
    all_delivered = models.BooleanField(default=True, verbose_name=_("all parcels shipped"))
    # A digest of what was last uploaded and accepted: an upload that would say the same is not made.
    reported_digest = models.CharField(max_length=64, blank=True, editable=False, verbose_name=_("reported digest"))
    reported_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reported at"))
    # WeChat lets a fully shipped payment be shipped again once: a correction spends it.
    correction_used = models.BooleanField(default=False, verbose_name=_("correction used"))
    error_code = models.CharField(max_length=16, blank=True, verbose_name=_("WeChat error code"))
    error_message = models.CharField(max_length=300, blank=True, verbose_name=_("WeChat's answer"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("WeChat shipping report")
        verbose_name_plural = _("WeChat shipping reports")
        indexes = [
            models.Index(fields=["updated_at"], condition=Q(status="pending"), name="orders_shiprep_pending"),
        ]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.get_status_display()}"


class ShippingReportEvent(StatusEvent):
    """One change of what WeChat has of an order's shipping, appended by its status service, never edited."""

    subject_field = "report"

    report = models.ForeignKey(
        ShippingReport, on_delete=models.CASCADE, related_name="events", verbose_name=_("WeChat shipping report")
    )
    from_status = models.CharField(
        max_length=16, choices=ShippingReportStatus.choices, blank=True, verbose_name=_("from status")
    )
    to_status = models.CharField(max_length=16, choices=ShippingReportStatus.choices, verbose_name=_("to status"))

    class Meta(StatusEvent.Meta):
        verbose_name = _("WeChat shipping event")
        verbose_name_plural = _("WeChat shipping events")
