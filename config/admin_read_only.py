"""Admin pages and inlines staff read but never edit: the rows change only through services, tasks or WeChat."""

from django.contrib import admin
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline


class ReadOnlyAdmin(ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(TabularInline):
    """Rows of a page's table; one with a page of its own (show_change_link) links to it from its first column.

    The theme would print each row's str() above it ("1: draft → scheduled") to hold that link: an
    internal label staff need not read, so the line is hidden and the link is a column instead.
    """

    extra = 0
    can_delete = False
    hide_title = True

    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        return ["row_page", *fields] if self.show_change_link else fields

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return ["row_page", *fields] if self.show_change_link else fields

    @admin.display(description="")
    def row_page(self, row) -> str:
        opts = row._meta
        try:
            url = reverse(f"{self.admin_site.name}:{opts.app_label}_{opts.model_name}_change", args=[row.pk])
        except NoReverseMatch:  # its model has no admin page this site shows
            return ""
        return format_html(
            '<a href="{}" class="text-primary-600" style="white-space: nowrap">{}</a>', url, _("Details")
        )

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
