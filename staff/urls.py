from django.urls import path

from staff.views import staff_language_switch

urlpatterns = [
    path("language/", staff_language_switch, name="staff_language_switch"),
]
