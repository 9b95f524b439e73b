from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from customers.models import Customer
from customers.services import customer_tokens_revoke


@admin.register(Customer)
class CustomerAdmin(ModelAdmin):
    """Customers come from WeChat login: staff read them, never create or edit them."""

    list_display = ["openid", "mini_program", "unionid", "created_at", "last_login_at"]
    list_select_related = ["mini_program"]
    search_fields = ["openid", "unionid"]
    list_filter = ["mini_program", "created_at", "last_login_at"]
    # The first campaign the customer logged in with: set once at login (customer_login), never edited.
    first_campaign_fields = [
        "first_source_campaign",
        "first_campaign",
        "first_source_scene",
        "first_source_path",
        "first_source_at",
    ]
    fields = ["openid", "mini_program", "unionid", "created_at", "last_login_at", *first_campaign_fields]
    readonly_fields = fields
    actions = ["revoke_tokens"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_revoke_tokens_permission(self, request) -> bool:
        return request.user.has_perm("customers.revoke_tokens_customer")

    @admin.action(description=_("Log out of every device (revoke all API tokens)"), permissions=["revoke_tokens"])
    def revoke_tokens(self, request, queryset):
        customers = list(queryset)
        revoked = customer_tokens_revoke(customer_ids=[customer.pk for customer in customers])
        for customer in customers:  # the customer's history says who logged them out, and when
            self.log_change(request, customer, [{"changed": {"fields": [str(_("API tokens revoked"))]}}])
        self.message_user(
            request,
            _("Customers logged out: %(customers)d. API tokens revoked: %(tokens)d.")
            % {"customers": len(customers), "tokens": revoked},
            messages.SUCCESS,
        )
