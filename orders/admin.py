from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from config.money import format_fen
from orders.exceptions import OrderTransitionNotAllowed
from orders.models import Carrier, Order, OrderEvent, OrderLine, OrderStatus, SkuStockAndSales
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


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """Pages staff read but never edit: orders change only through services (ship, cancel, pay)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
    search_fields = ["=order_no", "=phone", "=customer__openid"]
    search_help_text = "Order number, phone or openid (exact)."
    show_full_result_count = False
    inlines = [OrderLineInline, OrderEventInline]
    fieldsets = [
        (None, {"fields": ["order_no", "status", "ship_link", "customer", "total", "note"]}),
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

    def get_urls(self):
        ship = path("<int:order_id>/ship/", self.admin_site.admin_view(self.ship_view), name="orders_order_ship")
        return [ship, *super().get_urls()]

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


# Registered on import: reconciliation runs and discrepancies live in their own module.
from orders import admin_reconciliation  # noqa: E402, F401
