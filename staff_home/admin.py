"""Django's and django-celery-beat's models on the admin's theme.

Both apps register plain ModelAdmins; we register them again on unfold's classes so every page
looks alike. Beat's schedules are machinery: only superusers see or change them.
"""

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group, User
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask, SolarSchedule
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(DjangoUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(DjangoGroupAdmin, ModelAdmin):
    pass


class SuperusersOnly:
    """Hidden from the menu and refused to anyone but a superuser, whatever permissions a group grants."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request, *args) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return self.has_module_permission(request)


_BEAT_ADMINS = {
    PeriodicTask: beat_admin.PeriodicTaskAdmin,
    ClockedSchedule: beat_admin.ClockedScheduleAdmin,
    CrontabSchedule: beat_admin.CrontabScheduleAdmin,
    SolarSchedule: beat_admin.SolarScheduleAdmin,
    IntervalSchedule: beat_admin.IntervalScheduleAdmin,
}
for _model, _beat_admin_class in _BEAT_ADMINS.items():
    admin.site.unregister(_model)
    admin.site.register(_model, type(_beat_admin_class.__name__, (SuperusersOnly, _beat_admin_class, ModelAdmin), {}))
