"""Admin pages and inlines staff read but never edit: the rows change only through services, tasks or WeChat."""

from unfold.admin import ModelAdmin, TabularInline


class ReadOnlyAdmin(ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(TabularInline):
    extra = 0
    can_delete = False

    @property
    def hide_title(self) -> bool:
        # The theme prints each row's str() above it ("1: draft → scheduled"); only a row that links
        # to its own page needs that line, for the link.
        return not self.show_change_link

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False
