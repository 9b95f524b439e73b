from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class StaffHomeConfig(AppConfig):
    name = "staff_home"
    verbose_name = gettext_lazy("Staff home")
