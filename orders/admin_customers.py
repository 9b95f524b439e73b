"""Customers as people: customers/ registers the bare customer admin; orders replaces it with one that
shows what the customer bought, as only orders knows it (customers may not import orders).
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.admin_read_only import ReadOnlyInline
from config.money import format_fen
from customers.admin import CustomerAdmin
from customers.models import Customer
from orders.customer_selectors import customers_with_order_totals
from orders.models import Address, Order


def avatar_and_name(customer: Customer) -> str:
    """The avatar (when the customer sent one) beside the nickname, else the openid."""
    name = customer.nickname or customer.openid
    if not customer.avatar_url:
        return name
    return format_html(
        '<span class="customer-person"><img src="{}" alt="" width="32" height="32" loading="lazy" '
        'referrerpolicy="no-referrer" style="border-radius:9999px;display:inline-block;vertical-align:middle;'
        'margin-right:6px;object-fit:cover">{}</span>',
        customer.avatar_url,
        name,
    )


class CustomerOrderInline(ReadOnlyInline):
    """The customer's order history, newest first, each linking to its order page."""

    model = Order
    fields = ["order_link", "status", "total", "recipient", "phone", "created_at", "paid_at"]
    readonly_fields = fields
    ordering = ["-created_at", "-id"]
    verbose_name = _("order")
    verbose_name_plural = _("order history")

    @admin.display(description=_("Order"))
    def order_link(self, order: Order) -> str:
        return format_html('<a href="{}">{}</a>', reverse("admin:orders_order_change", args=[order.pk]), order.order_no)

    @admin.display(description=_("Total"))
    def total(self, order: Order) -> str:
        return format_fen(order.total_fen)


class CustomerAddressInline(ReadOnlyInline):
    model = Address
    fields = ["recipient", "phone", "province", "city", "district", "detail", "is_default"]
    readonly_fields = fields
    verbose_name = _("address")
    verbose_name_plural = _("address book")

    def has_view_permission(self, request, obj=None):
        # Part of the customer's page: whoever may see the customer sees where they ship to.
        return request.user.has_perm("customers.view_customer")


class CustomerWithOrdersAdmin(CustomerAdmin):
    list_display = [
        "person",
        "phone",
        "order_count",
        "spent",
        "refunded",
        "last_order_at",
        "mini_program",
        "created_at",
    ]
    list_display_links = ["person"]
    search_fields = ["nickname", "openid__exact", "unionid__exact", "addresses__phone__exact"]
    search_help_text = _("Nickname, openid, unionid or an address's phone (exact).")
    fields = [
        "person",
        "phone",
        "openid",
        "unionid",
        "mini_program",
        "order_count",
        "spent",
        "refunded",
        "created_at",
        "last_login_at",
        *CustomerAdmin.first_campaign_fields,
    ]
    readonly_fields = fields
    inlines = [CustomerOrderInline, CustomerAddressInline]

    def get_queryset(self, request):
        return customers_with_order_totals(customers=super().get_queryset(request))

    @admin.display(description=_("Customer"), ordering="nickname")
    def person(self, customer: Customer) -> str:
        return avatar_and_name(customer)

    @admin.display(description=_("Phone"))
    def phone(self, customer: Customer) -> str:
        return customer.phone or "—"

    @admin.display(description=_("Orders"), ordering="order_count")
    def order_count(self, customer: Customer) -> int:
        return customer.order_count

    @admin.display(description=_("Spent"), ordering="spent_fen")
    def spent(self, customer: Customer) -> str:
        return format_fen(customer.spent_fen)

    @admin.display(description=_("Refunded"), ordering="refunded_fen")
    def refunded(self, customer: Customer) -> str:
        return format_fen(customer.refunded_fen)

    @admin.display(description=_("Last order"), ordering="last_order_at")
    def last_order_at(self, customer: Customer):
        return customer.last_order_at or "—"


admin.site.unregister(Customer)
admin.site.register(Customer, CustomerWithOrdersAdmin)
