from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from config.admin_read_only import ReadOnlyAdmin, ReadOnlyInline
from config.errors import ApplicationError
from config.money import fen_from_yuan, format_fen
from orders.exceptions import OrderTransitionNotAllowed
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
from orders.services.refunds import refund_request
from orders.services.status import order_ship

# Statuses in which the customer has paid and the goods count as sold.
SOLD_STATUSES = [
    OrderStatus.PAID,
    OrderStatus.SHIPPED,
    OrderStatus.COMPLETED,
    OrderStatus.REFUNDING,
    OrderStatus.PARTIALLY_REFUNDED,
]
LOW_STOCK = 5


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = ["sku", "title", "specs", "price", "quantity", "subtotal"]
    readonly_fields = fields

    @admin.display(description="Price")
    def price(self, line: OrderLine) -> str:
        return format_fen(line.price_fen)

    @admin.display(description="Subtotal")
    def subtotal(self, line: OrderLine) -> str:
        return format_fen(line.subtotal_fen)


class OrderEventInline(ReadOnlyInline):
    """The timeline; events are appended by the status service only."""

    model = OrderEvent
    verbose_name_plural = "timeline"
    fields = ["at", "from_status", "to_status", "actor", "staff_user", "reason"]
    readonly_fields = fields


class PaymentInline(ReadOnlyInline):
    """The order's WeChat Pay attempts; their notifications are listed beside them on the order page."""

    model = Payment
    fields = ["out_trade_no", "amount", "sign_type", "status", "transaction_id", "paid_at", "created_at"]
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="Amount")
    def amount(self, payment: Payment) -> str:
        return format_fen(payment.amount_fen)


class PaidFilter(admin.SimpleListFilter):
    title = "payment"
    parameter_name = "paid"

    def lookups(self, request, model_admin):
        return [("yes", "paid"), ("no", "unpaid")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(paid_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(paid_at__isnull=True)
        return queryset


class ShipForm(forms.Form):
    carrier = forms.ChoiceField(choices=Carrier.choices)
    tracking_number = forms.CharField(
        max_length=40,
        validators=[RegexValidator(r"^[A-Za-z0-9-]+$", "Letters, digits and dashes only, as on the waybill.")],
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
        choices=[("full", "Full: everything not yet refunded"), ("partial", "Partial: the amount below")],
        widget=forms.RadioSelect,
        initial="partial",
    )
    amount_yuan = forms.DecimalField(
        label="Amount (yuan)",
        required=False,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        help_text="For a partial refund, e.g. 12.50.",
    )
    reason = forms.CharField(max_length=80, help_text="Kept with the refund and the order's timeline.")

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
            self.add_error("amount_yuan", "Enter the amount of a partial refund.")
        if cleaned.get("amount_fen", 0) > self.refundable_fen:
            self.add_error("amount_yuan", f"At most {format_fen(self.refundable_fen)} is left to refund.")
        if cleaned.get("kind") == "full" and self.refundable_fen == 0:
            self.add_error(None, "Everything paid is refunded or being refunded already.")
        return cleaned


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Orders are read here and changed only through the status service (the ship page)."""

    list_display = [
        "order_no",
        "status",
        "customer",
        "recipient",
        "phone",
        "total",
        "created_at",
        "paid_at",
        "ship_link",
    ]
    list_select_related = ["customer"]
    list_filter = ["status", PaidFilter, "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["order_no__exact", "phone__exact", "customer__openid__exact"]
    search_help_text = "Order number, phone or openid (exact)."
    show_full_result_count = False
    inlines = [OrderLineInline, PaymentInline, OrderEventInline]
    fieldsets = [
        (None, {"fields": ["order_no", "status", "ship_link", "refund_link", "customer", "total", "note"]}),
        ("Payment notifications", {"fields": ["payment_notifications"]}),
        ("Delivery", {"fields": ["recipient", "phone", "province", "city", "district", "address_detail"]}),
        ("Shipment", {"fields": ["carrier", "tracking_number", "shipped_at"]}),
        ("Dates", {"fields": ["created_at", "expires_at", "paid_at"]}),
        ("Attribution", {"fields": ["source_scene", "source_campaign"]}),
    ]
    readonly_fields = [field for fieldset in fieldsets for field in fieldset[1]["fields"]]

    @admin.display(description="Total", ordering="total_fen")
    def total(self, order: Order) -> str:
        return format_fen(order.total_fen)

    @admin.display(description="Ship")
    def ship_link(self, order: Order) -> str:
        if order.status != OrderStatus.PAID:
            return "—"
        return format_html(
            '<a class="button" href="{}">Ship this order</a>', reverse("admin:orders_order_ship", args=[order.pk])
        )

    @admin.display(description="Received from WeChat Pay")
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
                    notification.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                    notification.out_trade_no,
                    format_fen(notification.total_fee),
                    notification.result_code,
                    notification.get_outcome_display(),
                )
                for notification in notifications
            ),
        )
        return format_html(
            "<table><thead><tr><th>received</th><th>out_trade_no</th><th>amount</th><th>result</th>"
            "<th>outcome</th></tr></thead><tbody>{}</tbody></table>",
            rows,
        )

    @admin.display(description="Refund")
    def refund_link(self, order: Order) -> str:
        if order.status not in REFUNDABLE_STATUSES:
            return "—"
        return format_html(
            '<a class="button" href="{}">Refund</a>', reverse("admin:orders_order_refund", args=[order.pk])
        )

    def get_urls(self):
        ship = path("<int:order_id>/ship/", self.admin_site.admin_view(self.ship_view), name="orders_order_ship")
        refund = path(
            "<int:order_id>/refund/", self.admin_site.admin_view(self.refund_view), name="orders_order_refund"
        )
        return [ship, refund, *super().get_urls()]

    def refund_view(self, request, order_id: int):
        if not request.user.has_perm("orders.refund_order"):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        payment = Payment.objects.filter(order=order, status=PaymentStatus.PAID).first()
        refundable_fen = payment.amount_fen - payment.refunded_fen if payment else 0
        form = RefundForm(request.POST or None, refundable_fen=refundable_fen)
        if payment is None:
            form.add_error(None, "This order has no paid payment to refund.")
        elif request.method == "POST" and form.is_valid():
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
                    f"Refund {refund.out_refund_no} of {format_fen(refund.amount_fen)} is requested from WeChat Pay.",
                )
                return redirect("admin:orders_order_change", order.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund order {order.order_no}",
            "opts": self.opts,
            "order": order,
            "payment": payment,
            "paid": format_fen(payment.amount_fen) if payment else "—",
            "refunded": format_fen(payment.refunded_fen) if payment else "—",
            "refundable": format_fen(refundable_fen),
            "refunds": Refund.objects.filter(payment__order=order),
            "form": form,
        }
        return TemplateResponse(request, "admin/orders/order/refund.html", context)

    def ship_view(self, request, order_id: int):
        if not request.user.has_perm("orders.ship_order"):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        form = ShipForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                order_ship(order=order, staff_user=request.user, **form.cleaned_data)
            except OrderTransitionNotAllowed as error:
                form.add_error(None, error.message)
            else:
                messages.success(request, f"Order {order.order_no} is shipped.")
                return redirect("admin:orders_order_change", order.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Ship order {order.order_no}",
            "opts": self.opts,
            "order": order,
            "form": form,
        }
        return TemplateResponse(request, "admin/orders/order/ship.html", context)


class NeedsAttentionFilter(admin.SimpleListFilter):
    """Notifications of money WeChat took that our books do not show as paid: another amount, or a dead order."""

    title = "needs attention"
    parameter_name = "attention"

    def lookups(self, request, model_admin):
        return [("yes", "needs attention"), ("no", "handled")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(outcome__in=PaymentNotification.NEEDS_ATTENTION)
        if self.value() == "no":
            return queryset.exclude(outcome__in=PaymentNotification.NEEDS_ATTENTION)
        return queryset


class PaymentEventInline(ReadOnlyInline):
    """The payment's timeline; events are appended by the payment status service only."""

    model = PaymentEvent
    verbose_name_plural = "timeline"
    fields = ["at", "from_status", "to_status", "actor", "staff_user", "reason"]
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    """WeChat Pay attempts, one out_trade_no each; changed only by the payment services."""

    list_display = ["out_trade_no", "order_link", "amount", "sign_type", "status", "transaction_id", "paid_at"]
    list_filter = ["status", "sign_type", "created_at"]
    search_fields = ["out_trade_no__exact", "transaction_id__exact", "order__order_no__exact"]
    search_help_text = "out_trade_no, transaction_id or order number (exact)."
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

    @admin.display(description="Amount", ordering="amount_fen")
    def amount(self, payment: Payment) -> str:
        return format_fen(payment.amount_fen)

    @admin.display(description="Order")
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
    search_help_text = "out_trade_no, transaction_id or order number (exact)."
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

    @admin.display(description="Amount", ordering="total_fee")
    def amount(self, notification: PaymentNotification) -> str:
        return format_fen(notification.total_fee)

    @admin.display(description="Payment")
    def payment_link(self, notification: PaymentNotification) -> str:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:orders_payment_change", args=[notification.payment_id]),
            notification.payment,
        )


class StockLevelFilter(admin.SimpleListFilter):
    title = "stock"
    parameter_name = "stock"

    def lookups(self, request, model_admin):
        return [("out", "out of stock"), ("low", f"low (1–{LOW_STOCK})"), ("in", "in stock")]

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
        return (
            super()
            .get_queryset(request)
            .annotate(
                units_awaiting_payment=Coalesce(
                    Sum("order_lines__quantity", filter=Q(order_lines__order__status=OrderStatus.PENDING_PAYMENT)), 0
                ),
                units_sold=Coalesce(
                    Sum("order_lines__quantity", filter=Q(order_lines__order__status__in=SOLD_STATUSES)), 0
                ),
                revenue_fen=Coalesce(
                    Sum("order_lines__subtotal_fen", filter=Q(order_lines__order__status__in=SOLD_STATUSES)), 0
                ),
            )
            .order_by("-units_sold", "code")
        )

    @admin.display(description="Awaiting payment", ordering="units_awaiting_payment")
    def awaiting_payment(self, sku) -> int:
        return sku.units_awaiting_payment

    @admin.display(description="Sold", ordering="units_sold")
    def sold(self, sku) -> int:
        return sku.units_sold

    @admin.display(description="Revenue", ordering="revenue_fen")
    def revenue(self, sku) -> str:
        return format_fen(sku.revenue_fen)


class RefundEventInline(ReadOnlyInline):
    model = RefundEvent
    verbose_name_plural = "timeline"
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
    search_help_text = "Refund number, WeChat refund id, payment or order number (exact)."
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

    @admin.display(description="Amount", ordering="amount_fen")
    def amount(self, refund: Refund) -> str:
        return format_fen(refund.amount_fen)

    @admin.display(description="Order")
    def order_link(self, refund: Refund) -> str:
        order = refund.payment.order
        return format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[order.pk]), order.order_no)


# Registered on import: reconciliation runs and discrepancies live in their own module.
from orders import admin_reconciliation  # noqa: E402, F401
