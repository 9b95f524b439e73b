from django.contrib import admin
from unfold.admin import ModelAdmin

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(ModelAdmin):
    """Customers come from WeChat login: staff read them, never create or edit them."""

    list_display = ["openid", "mini_program", "unionid", "created_at", "last_login_at"]
    list_select_related = ["mini_program"]
    search_fields = ["openid", "unionid"]
    list_filter = ["mini_program", "created_at", "last_login_at"]
    fields = ["openid", "mini_program", "unionid", "created_at", "last_login_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
