from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from catalog.models import Sku
from catalog.selectors import first_sku_list_thumbnail
from catalog.spec_matrix import specs_text
from config.admin_read_only import ReadOnlyAdmin, ReadOnlyInline
from config.admin_thumbnails import list_thumbnail_html
from config.errors import ApplicationError
from config.money import fen_from_yuan, format_fen
from orders.admin_customers import avatar_and_name
from orders.admin_shipping import OrderShippingAdminMixin
from orders.carriers import CARRIER_FACTS
from orders.exceptions import (
    ShipmentSheetInvalid,
    ShipmentSheetUnreadable,
)
from orders.models import (
    Carrier,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    Payment,
    PaymentEvent,
    PaymentNotification,
    PaymentStatus,
    Refund,
    RefundEvent,
    SkuStockAndSales,
)
from orders.order_exports import order_export_csv, order_export_rows, order_export_xlsx
from orders.services.refunds import refund_request
from orders.services.shipping import orders_ship_from_sheet
from orders.shipping_sheets import MAX_SHEET_BYTES, shipment_sheet_read
from orders.stock_and_sales import skus_with_stock_and_sales

LOW_STOCK = 5


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["sku", "title", "spec_values", "price", "quantity", "subtotal"]
    readonly_fields = fields

    @admin.display(description=_("Specs"))
    def spec_values(self, line: OrderLine) -> str:
        return specs_text(line.specs)

    @admin.display(description=_("Price"))
    def price(self, line: OrderLine) -> str:
        return format_fen(line.price_fen)

    @admin.display(description=_("Subtotal"))
    def subtotal(self, line: OrderLine) -> str:
        return format_fen(line.subtotal_fen)


class OrderEventInline(ReadOnlyInline):
    """The timeline; events are appended by the status service only."""

    model = OrderEvent
    verbose_name_plural = _("timeline")
    fields = ["at", "from_status", "to_status", "actor", "staff_user", "reason"]
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    """The order's WeChat Pay attempts; their notifications are listed beside them on the order page."""

    model = Payment
    fields = ["out_trade_no", "amount", "sign_type", "status", "transaction_id", "paid_at", "created_at"]
    readonly_fields = fields
    show_change_link = True

    @admin.display(description=_("Amount"))
    def amount(self, payment: Payment) -> str:
        return format_fen(payment.amount_fen)


class PaidFilter(admin.SimpleListFilter):
    title = _("payment")
    parameter_name = "paid"

    def lookups(self, request, model_admin):
        return [("yes", _("paid")), ("no", _("unpaid"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(paid_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(paid_at__isnull=True)
        return queryset


EXPORT_FORMATS = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class ShipmentSheetForm(forms.Form):
    sheet = forms.FileField(
        label=_("Sheet (CSV or XLSX)"),
        help_text=_("First row: 订单号, 快递公司, 运单号 (order number, carrier, tracking number); one order a row."),
    )


REFUNDABLE_STATUSES = [
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.COMPLETED,
    OrderStatus.REFUNDING,
    OrderStatus.PARTIALLY_REFUNDED,
]


class RefundForm(forms.Form):
    kind = forms.ChoiceField(
        choices=[("full", _("Full: everything not yet refunded")), ("partial", _("Partial: the amount below"))],
        widget=forms.RadioSelect,
        initial="partial",
        label=_("Kind"),
    )
    amount_yuan = forms.DecimalField(
        label=_("Amount (yuan)"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        help_text=_("For a partial refund, e.g. 12.50."),
    )
    reason = forms.CharField(
        max_length=80, help_text=_("Kept with the refund and the order's timeline."), label=_("Reason")
    )

    def __init__(self, *args, refundable_fen: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.refundable_fen = refundable_fen

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("kind") == "full":
            cleaned["amount_fen"] = self.refundable_fen
        elif cleaned.get("amount_yuan") is not None:
            cleaned["amount_fen"] = fen_from_yuan(cleaned["amount_yuan"])  # two decimals: exact
        elif "amount_yuan" not in self.errors:
            self.add_error("amount_yuan", _("Enter the amount of a partial refund."))
        if cleaned.get("amount_fen", 0) > self.refundable_fen:
            self.add_error(
                "amount_yuan", _("At most %(amount)s is left to refund.") % {"amount": format_fen(self.refundable_fen)}
            )
        if cleaned.get("kind") == "full" and self.refundable_fen == 0:
            self.add_error(None, _("Everything paid is refunded or being refunded already."))
        return cleaned


@admin.register(Order)
class OrderAdmin(OrderShippingAdminMixin, ReadOnlyAdmin):
    """Orders are read here and changed only through the status service (the ship page)."""

    list_display = [
        "thumbnail",
        "order_no",
        "status",
        "buyer",
        "recipient",
        "phone",
        "total",
        "created_at",
        "paid_at",
        "ship_link",
    ]
    list_select_related = ["customer", "shipping_report"]
    list_filter = ["status", PaidFilter, "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["order_no__exact", "phone__exact", "customer__openid__exact"]
    search_help_text = _("Order number, phone or openid (exact).")
    show_full_result_count = False
    inlines = [OrderLineInline, PaymentInline, OrderEventInline]
    actions = ["print_packing_list"]
    change_list_template = "admin/orders/order/change_list.html"
    fieldsets = [
        (None, {"fields": ["order_no", "status", "ship_link", "refund_link", "customer", "total", "note"]}),
        (_("Payment notifications"), {"fields": ["payment_notifications"]}),
        (_("Delivery"), {"fields": ["recipient", "phone", "province", "city", "district", "address_detail"]}),
        (_("Shipment"), {"fields": ["carrier", "tracking_number", "shipped_at", "wechat_shipping"]}),
        (_("Dates"), {"fields": ["created_at", "expires_at", "paid_at"]}),
        (_("Attribution"), {"fields": ["source_scene", "source_campaign", "campaign", "source_path"]}),
    ]
    readonly_fields = [field for fieldset in fieldsets for field in fieldset[1]["fields"]]

    @admin.display(description=_("Total"), ordering="total_fen")
    def total(self, order: Order) -> str:
        return format_fen(order.total_fen)

    @admin.display(description=_("Customer"), ordering="customer__nickname")
    def buyer(self, order: Order) -> str:
        """The person (nickname and avatar when known), linking to their page with their other orders."""
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:customers_customer_change", args=[order.customer_id]),
            avatar_and_name(order.customer),
        )

    def get_queryset(self, request):
        # The first line's SKU photo (or its product's), looked up in the page's own query.
        first_line_sku = Sku.objects.filter(order_lines__order=OuterRef("pk")).order_by("order_lines__id")
        return super().get_queryset(request).annotate(list_thumbnail_name=first_sku_list_thumbnail(skus=first_line_sku))

    @admin.display(description=_("Image"))
    def thumbnail(self, order: Order) -> str:
        return list_thumbnail_html(media_name=order.list_thumbnail_name)

    @admin.display(description=_("Ship"))
    def ship_link(self, order: Order) -> str:
        return self.ship_link_html(order)

    @admin.display(description=_("WeChat shipping"))
    def wechat_shipping(self, order: Order) -> str:
        return self.wechat_shipping_html(order)

    @admin.display(description=_("Received from WeChat Pay"))
    def payment_notifications(self, order: Order) -> str:
        notifications = PaymentNotification.objects.filter(payment__order=order).order_by("received_at", "id")
        if not notifications:
            return "—"
        rows = format_html_join(
            "",
            '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
            (
                (
                    reverse("admin:orders_paymentnotification_change", args=[notification.pk]),
                    # Beijing time, like every other time on the page (the stored value is UTC).
                    date_format(timezone.localtime(notification.received_at), "DATETIME_FORMAT"),
                    notification.out_trade_no,
                    format_fen(notification.total_fee),
                    notification.result_code,
                    notification.get_outcome_display(),
                )
                for notification in notifications
            ),
        )
        return format_html(
            _(
                "<table><thead><tr><th>received</th><th>out_trade_no</th><th>amount</th><th>result</th>"
                "<th>outcome</th></tr></thead><tbody>{}</tbody></table>"
            ),
            rows,
        )

    @admin.display(description=_("Refund"))
    def refund_link(self, order: Order) -> str:
        if order.status not in REFUNDABLE_STATUSES:
            return "—"
        return format_html(
            _('<a class="button" href="{}">Refund</a>'), reverse("admin:orders_order_refund", args=[order.pk])
        )

    def get_urls(self):
        refund = path(
            "<int:order_id>/refund/", self.admin_site.admin_view(self.refund_view), name="orders_order_refund"
        )
        ship_sheet = path(
            "ship-sheet/", self.admin_site.admin_view(self.ship_sheet_view), name="orders_order_ship_sheet"
        )
        export = path(
            "export/<str:file_format>/", self.admin_site.admin_view(self.export_view), name="orders_order_export"
        )
        return [*self.shipping_urls(), refund, ship_sheet, export, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "can_ship": request.user.has_perm("orders.ship_order"),
            "export_query": request.GET.urlencode(),
        }
        return super().changelist_view(request, extra_context)

    # --- operations tools: export, a shipping sheet, packing lists

    def export_view(self, request, file_format: str):
        """The changelist's orders as it is filtered and searched (every page), as CSV or XLSX."""
        if file_format not in EXPORT_FORMATS:
            raise Http404
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            orders = self.get_changelist_instance(request).get_queryset(request)
        except IncorrectLookupParameters:
            # As the list itself answers a filter it does not know: back to it, unfiltered.
            return redirect(f"{reverse('admin:orders_order_changelist')}?{ERROR_FLAG}=1")
        rows = order_export_rows(orders=orders)
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        if file_format == "csv":
            response = StreamingHttpResponse(order_export_csv(rows), content_type="text/csv; charset=utf-8")
        else:
            response = HttpResponse(order_export_xlsx(rows), content_type=EXPORT_FORMATS["xlsx"])
        response["Content-Disposition"] = f'attachment; filename="orders-{stamp}.{file_format}"'
        return response

    def ship_sheet_view(self, request):
        """Ship orders from an uploaded sheet: every row checked, then all shipped, or none and each row's problems."""
        if not request.user.has_perm("orders.ship_order"):
            raise PermissionDenied
        form = ShipmentSheetForm(request.POST or None, request.FILES or None)
        row_errors: dict[int, list[str]] = {}
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["sheet"]
            try:
                rows = shipment_sheet_read(name=upload.name, content=upload.read(MAX_SHEET_BYTES + 1))
                shipped = orders_ship_from_sheet(rows=rows, staff_user=request.user)
            except ShipmentSheetInvalid as refusal:
                form.add_error(None, refusal.message)
                row_errors = refusal.row_errors
            except ShipmentSheetUnreadable as refusal:
                form.add_error("sheet", refusal.message)
            else:
                messages.success(
                    request,
                    ngettext("%(count)d order is shipped.", "%(count)d orders are shipped.", len(shipped))
                    % {"count": len(shipped)},
                )
                return redirect(f"{reverse('admin:orders_order_changelist')}?status__exact={OrderStatus.SHIPPED}")
        context = {
            **self.admin_site.each_context(request),
            "title": _("Ship orders from a sheet"),
            "opts": self.opts,
            "form": form,
            "row_errors": sorted(row_errors.items()),
            "carriers": [(carrier.label, CARRIER_FACTS[carrier].english_name) for carrier in Carrier],
            "to_ship_export_url": f"{reverse('admin:orders_order_export', args=['xlsx'])}?status__exact=paid",
        }
        return TemplateResponse(request, "admin/orders/order/ship_sheet.html", context)

    @admin.action(description=_("Print packing lists"))
    def print_packing_list(self, request, queryset):
        """A print-friendly page, one packing list a sheet of paper, for the selected orders."""
        orders = queryset.prefetch_related("lines__sku").order_by("created_at", "pk")
        context = {"orders": orders, "title": _("Packing lists")}
        return TemplateResponse(request, "admin/orders/order/packing_list.html", context)

    def refund_view(self, request, order_id: int):
        if not request.user.has_perm("orders.refund_order"):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        payment = Payment.objects.filter(order=order, status=PaymentStatus.PAID).first()
        refundable_fen = payment.amount_fen - payment.refunded_fen if payment else 0
        form = RefundForm(request.POST or None, refundable_fen=refundable_fen)
        # Said on the page, not as a form error: an unbound form (a GET) cannot carry one.
        no_payment = _("This order has no paid payment to refund.") if payment is None else None
        if payment is not None and request.method == "POST" and form.is_valid():
            try:
                refund = refund_request(
                    payment_id=payment.pk,
                    amount_fen=form.cleaned_data["amount_fen"],
                    reason=form.cleaned_data["reason"],
                    staff_user=request.user,
                )
            except ApplicationError as error:  # over what is left (a refund made meanwhile), order not refundable
                form.add_error(None, error.message)
            else:
                messages.success(
                    request,
                    _("Refund %(out_refund_no)s of %(amount)s is requested from WeChat Pay.")
                    % {"out_refund_no": refund.out_refund_no, "amount": format_fen(refund.amount_fen)},
                )
                return redirect("admin:orders_order_change", order.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Refund order %(order_no)s") % {"order_no": order.order_no},
            "opts": self.opts,
            "order": order,
            "payment": payment,
            "paid": format_fen(payment.amount_fen) if payment else "—",
            "refunded": format_fen(payment.refunded_fen) if payment else "—",
            "refundable": format_fen(refundable_fen),
            "refunds": Refund.objects.filter(payment__order=order),
            "form": form,
            "no_payment": no_payment,
        }
        return TemplateResponse(request, "admin/orders/order/refund.html", context)


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Notifications of money WeChat took that our books do not show as paid: another amount, or a dead order."""

    title = _("needs attention")
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", _("needs attention")), ("no", _("handled"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(outcome__in=PaymentNotification.NEEDS_ATTENTION)
        if self.value() == "no":
            return queryset.exclude(outcome__in=PaymentNotification.NEEDS_ATTENTION)
        return queryset


class PaymentEventInline(ReadOnlyInline):
    """The payment's timeline; events are appended by the payment status service only."""

    model = PaymentEvent
    verbose_name_plural = _("timeline")
    fields = ["at", "from_status", "to_status", "actor", "staff_user", "reason"]
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """WeChat Pay attempts, one out_trade_no each; changed only by the payment services."""

    list_display = ["out_trade_no", "order_link", "amount", "sign_type", "status", "transaction_id", "paid_at"]
    list_filter = ["status", "sign_type", "created_at"]
    search_fields = ["out_trade_no__exact", "transaction_id__exact", "order__order_no__exact"]
    search_help_text = _("out_trade_no, transaction_id or order number (exact).")
    list_select_related = ["order"]
    inlines = [PaymentEventInline]
    fields = [
        "out_trade_no",
        "order_link",
        "amount",
        "sign_type",
        "status",
        "prepay_id",
        "prepay_expires_at",
        "transaction_id",
        "refunded_fen",
        "created_at",
        "paid_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("Amount"), ordering="amount_fen")
    def amount(self, payment: Payment) -> str:
        return format_fen(payment.amount_fen)

    @admin.display(description=_("Order"))
    def order_link(self, payment: Payment) -> str:
        return format_html(
            '<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[payment.order_id]), payment.order
        )


@admin.register(PaymentNotification)
class PaymentNotificationAdmin(ReadOnlyAdmin):
    """Every verified payment notification as WeChat sent it; "needs attention" lists the ones staff must settle."""

    list_display = ["received_at", "out_trade_no", "transaction_id", "amount", "result_code", "outcome"]
    list_filter = [NeedsAttentionFilter, "outcome", "result_code", "received_at"]
    search_fields = ["out_trade_no__exact", "transaction_id__exact", "payment__order__order_no__exact"]
    search_help_text = _("out_trade_no, transaction_id or order number (exact).")
    date_hierarchy = "received_at"
    fields = [
        "received_at",
        "payment_link",
        "out_trade_no",
        "transaction_id",
        "amount",
        "result_code",
        "outcome",
        "raw_body",
    ]
    readonly_fields = fields

    @admin.display(description=_("Amount"), ordering="total_fee")
    def amount(self, notification: PaymentNotification) -> str:
        return format_fen(notification.total_fee)

    @admin.display(description=_("Payment"))
    def payment_link(self, notification: PaymentNotification) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:orders_payment_change", args=[notification.payment_id]),
            notification.payment,
        )


class StockLevelFilter(admin.SimpleListFilter):
    title = _("stock")
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [
            ("out", _("out of stock")),
            ("low", _("low (1–%(limit)s)") % {"limit": LOW_STOCK}),
            ("in", _("in stock")),
        ]

    def queryset(self, request, queryset):
        levels = {"out": Q(stock=0), "low": Q(stock__gte=1, stock__lte=LOW_STOCK), "in": Q(stock__gt=LOW_STOCK)}
        return queryset.filter(levels[self.value()]) if self.value() in levels else queryset


@admin.register(SkuStockAndSales)
class SkuStockAndSalesAdmin(ReadOnlyAdmin):
    """Stock beside what orders hold and sold, per SKU; stock itself is edited on the product."""

    list_display = ["code", "product", "is_active", "stock", "awaiting_payment", "sold", "revenue"]
    list_select_related = ["product"]
    list_filter = [StockLevelFilter, "is_active"]
    search_fields = ["code", "product__title"]

    def get_queryset(self, request):
        return skus_with_stock_and_sales(skus=super().get_queryset(request)).order_by("-units_sold", "code")

    @admin.display(description=_("Awaiting payment"), ordering="units_awaiting_payment")
    def awaiting_payment(self, sku) -> int:
        return sku.units_awaiting_payment

    @admin.display(description=_("Sold"), ordering="units_sold")
    def sold(self, sku) -> int:
        return sku.units_sold

    @admin.display(description=_("Revenue net of refunds"), ordering="revenue_fen")
    def revenue(self, sku) -> str:
        return format_fen(sku.revenue_fen)


class RefundEventInline(ReadOnlyInline):
    model = RefundEvent
    verbose_name_plural = _("timeline")
    fields = ["at", "from_status", "to_status", "actor", "staff_user", "reason"]
    readonly_fields = fields


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Refunds are read here; they are asked for on the order's refund page and settled by WeChat Pay."""

    list_display = ["out_refund_no", "order_link", "amount", "status", "refund_id", "requested_by", "created_at"]
    list_select_related = ["payment__order", "requested_by"]
    list_filter = ["status", "created_at"]
    search_fields = [
        "out_refund_no__exact",
        "refund_id__exact",
        "payment__out_trade_no__exact",
        "payment__order__order_no__exact",
    ]
    search_help_text = _("Refund number, WeChat refund id, payment or order number (exact).")
    inlines = [RefundEventInline]
    fields = [
        "out_refund_no",
        "order_link",
        "amount",
        "status",
        "reason",
        "refund_id",
        "failure_reason",
        "requested_by",
        "created_at",
        "settled_at",
    ]
    readonly_fields = fields

    @admin.display(description=_("Amount"), ordering="amount_fen")
    def amount(self, refund: Refund) -> str:
        return format_fen(refund.amount_fen)

    @admin.display(description=_("Order"))
    def order_link(self, refund: Refund) -> str:
        order = refund.payment.order
        return format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[order.pk]), order.order_no)


# Registered on import: reconciliation runs and discrepancies live in their own module (customers: imported above).
from orders import admin_reconciliation  # noqa: E402, F401
