from django.contrib import admin
from unfold.admin import ModelAdmin

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(ModelAdmin):
    """Customers come from WeChat login: staff read them, never create or edit them."""

    list_display = ["openid", "unionid", "created_at", "last_login_at"]
    search_fields = ["openid", "unionid"]
    list_filter = ["created_at", "last_login_at"]
    fields = ["openid", "unionid", "created_at", "last_login_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
