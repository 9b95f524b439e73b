"""The order admin's shipping pages: ship parcels (or virtual goods), correct a tracking number, ask WeChat again;
and the order page's "WeChat shipping" block (what WeChat's shipping service has, and its events)."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError
from orders.exceptions import TrackingNumberInvalid
from orders.models import Carrier, Order, OrderStatus
from orders.services.shipments import ParcelInput, order_parcels_ship, shipment_tracking_correct
from orders.services.shipping_report import carrier_choices, shipping_report_problem, shipping_report_retry
from orders.shipment_models import Shipment, ShippingReport, ShippingReportStatus

TRACKING_NUMBER_VALIDATOR = RegexValidator(r"^[A-Za-z0-9-]+$", _("Letters, digits and dashes only, as on the waybill."))


class ShipForm(forms.Form):
    carrier = forms.ChoiceField(label=_("Carrier"), required=False)
    tracking_number = forms.CharField(
        label=_("Tracking number"), max_length=40, required=False, validators=[TRACKING_NUMBER_VALIDATOR]
    )
    more_to_follow = forms.BooleanField(
        label=_("More parcels to follow"),
        required=False,
        help_text=_("The order ships in several parcels and this is not the last (WeChat takes up to 15)."),
    )
    virtual = forms.BooleanField(
        label=_("Virtual goods (no parcel)"),
        required=False,
        help_text=_("Top-ups, codes, services: nothing is sent by a carrier."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # WeChat's own Chinese names for the carriers it takes (get_delivery_list), kept in the cache.
        self.fields["carrier"].choices = [("", "—"), *carrier_choices()]

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("virtual"):
            if cleaned.get("more_to_follow"):
                self.add_error("more_to_follow", gettext("Virtual goods are delivered at once, not in parcels."))
            return cleaned
        for name in ("carrier", "tracking_number"):
            if name not in self.errors and not cleaned.get(name):
                self.add_error(name, gettext("Required for a parcel; tick “virtual goods” for none."))
        return cleaned


class CorrectTrackingForm(forms.Form):
    tracking_number = forms.CharField(
        label=_("Correct tracking number"), max_length=40, validators=[TRACKING_NUMBER_VALIDATOR]
    )


class OrderShippingAdminMixin:
    """Mixed into OrderAdmin: its shipping views and the order page's WeChat shipping block."""

    def shipping_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("<int:order_id>/ship/", view(self.ship_view), name="orders_order_ship"),
            path(
                "<int:order_id>/parcels/<int:shipment_id>/correct/",
                view(self.correct_tracking_view),
                name="orders_order_correct_tracking",
            ),
            path("<int:order_id>/report-shipping/", view(self.report_again_view), name="orders_order_report_shipping"),
        ]

    def _shipping_page(self, request, order: Order, form, *, title, submit_label, explanation=""):
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.opts,
            "order": order,
            "form": form,
            "submit_label": submit_label,
            "explanation": explanation,
        }
        return TemplateResponse(request, "admin/orders/order/shipping_form.html", context)

    def ship_view(self, request, order_id: int):
        if not request.user.has_perm("orders.ship_order"):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        form = ShipForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            parcels = [] if data["virtual"] else [ParcelInput(data["carrier"], data["tracking_number"])]
            try:
                new = order_parcels_ship(
                    order=order,
                    parcels=parcels,
                    staff_user=request.user,
                    more_to_follow=data["more_to_follow"],
                    virtual=data["virtual"],
                )
            except TrackingNumberInvalid as error:
                form.add_error("tracking_number", error.message)
            except ApplicationError as error:  # not paid, shipped meanwhile, all parcels shipped, too many
                form.add_error(None, error.message)
            else:
                if new:
                    messages.success(request, gettext("Order %(order_no)s is shipped.") % {"order_no": order.order_no})
                else:
                    messages.info(request, gettext("This parcel is recorded already: nothing changed."))
                return redirect("admin:orders_order_change", order.pk)
        return self._shipping_page(
            request,
            order,
            form,
            title=gettext("Ship order %(order_no)s") % {"order_no": order.order_no},
            submit_label=gettext("Mark as shipped"),
        )

    def correct_tracking_view(self, request, order_id: int, shipment_id: int):
        if not request.user.has_perm("orders.ship_order"):
            raise PermissionDenied
        shipment = get_object_or_404(Shipment.objects.select_related("order"), pk=shipment_id, order_id=order_id)
        form = CorrectTrackingForm(request.POST or None, initial={"tracking_number": shipment.tracking_number})
        if request.method == "POST" and form.is_valid():
            try:
                shipment_tracking_correct(
                    shipment=shipment, tracking_number=form.cleaned_data["tracking_number"], staff_user=request.user
                )
            except TrackingNumberInvalid as error:
                form.add_error("tracking_number", error.message)
            except ApplicationError as error:  # WeChat's one change is used
                form.add_error(None, error.message)
            else:
                messages.success(request, gettext("The tracking number is corrected; WeChat is being told."))
                return redirect("admin:orders_order_change", order_id)
        return self._shipping_page(
            request,
            shipment.order,
            form,
            title=gettext("Correct the tracking number of %(number)s") % {"number": shipment.tracking_number},
            submit_label=gettext("Correct"),
            explanation=gettext(
                "WeChat allows an order's shipping to be changed once after it is complete: check the number."
            ),
        )

    def report_again_view(self, request, order_id: int):
        if not request.user.has_perm("orders.ship_order"):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        form = forms.Form(request.POST or None)
        if request.method == "POST":
            try:
                shipping_report_retry(order=order, staff_user=request.user)
            except (ApplicationError, ShippingReport.DoesNotExist):
                messages.error(request, gettext("There is nothing to tell WeChat again."))
            else:
                messages.success(request, gettext("WeChat is being told the shipping again."))
            return redirect("admin:orders_order_change", order.pk)
        return self._shipping_page(
            request,
            order,
            form,
            title=gettext("Tell WeChat the shipping again"),
            submit_label=gettext("Tell WeChat again"),
        )

    def ship_link_html(self, order: Order) -> str:
        report = getattr(order, "shipping_report", None) if order.status == OrderStatus.SHIPPED else None
        if order.status in (OrderStatus.PAID, OrderStatus.PARTIALLY_REFUNDED) and not order.shipped_at:
            label = gettext("Ship this order")
        elif report is not None and not report.all_delivered:
            label = gettext("Ship the next parcel")
        else:
            return "—"
        return format_html(
            '<a class="button" href="{}">{}</a>', reverse("admin:orders_order_ship", args=[order.pk]), label
        )

    def wechat_shipping_html(self, order: Order) -> str:
        report = ShippingReport.objects.filter(order=order).first()
        parcels = list(Shipment.objects.filter(order=order))
        if report is None and not parcels:
            return "—"
        parts = []
        if report is not None:
            problem = shipping_report_problem(report) if report.status == ShippingReportStatus.FAILED else ""
            parts.append(
                format_html(
                    '<p class="wechat-shipping-status"><strong>{}</strong> {}</p>', report.get_status_display(), problem
                )
            )
            if report.status == ShippingReportStatus.FAILED:
                parts.append(
                    format_html(
                        '<p><a class="button" href="{}">{}</a></p>',
                        reverse("admin:orders_order_report_shipping", args=[order.pk]),
                        gettext("Tell WeChat again"),
                    )
                )
            if report.correction_used:
                parts.append(format_html("<p>{}</p>", gettext("WeChat's one change of this shipping is used.")))
        if parcels:
            headers = [gettext("carrier"), gettext("tracking number"), gettext("shipped at"), gettext("replaced"), ""]
            rows = [
                (
                    Carrier(parcel.carrier).label if parcel.carrier else gettext("virtual goods"),
                    parcel.tracking_number or "—",
                    date_format(timezone.localtime(parcel.shipped_at), "DATETIME_FORMAT"),
                    parcel.replaced_tracking_number or "—",
                    format_html(
                        '<a href="{}">{}</a>',
                        reverse("admin:orders_order_correct_tracking", args=[order.pk, parcel.pk]),
                        gettext("Correct"),
                    )
                    if parcel.tracking_number
                    else "",
                )
                for parcel in parcels
            ]
            parts.append(_table(headers, rows, row_class="parcel"))
        if report is not None:
            rows = [
                (
                    date_format(timezone.localtime(event.at), "DATETIME_FORMAT"),
                    f"{event.get_from_status_display() or '—'} → {event.get_to_status_display()}",
                    event.reason,
                )
                for event in report.events.all()
            ]
            headers = [gettext("at"), gettext("change"), gettext("reason")]
            parts.append(_table(headers, rows, row_class="wechat-shipping-event"))
        return format_html_join("", "{}", ((part,) for part in parts))


# The theme resets table spacing; these small tables sit inside a read-only field, so they carry their own.
CELL_STYLE = "padding:2px 16px 2px 0;text-align:left;vertical-align:top"


def _table(headers: list[str], rows: list[tuple], *, row_class: str) -> str:
    head = format_html_join("", '<th style="{}">{}</th>', ((CELL_STYLE, header) for header in headers))
    body = format_html_join(
        "",
        '<tr class="{}">{}</tr>',
        (
            (row_class, format_html_join("", '<td style="{}">{}</td>', ((CELL_STYLE, cell) for cell in row)))
            for row in rows
        ),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)
