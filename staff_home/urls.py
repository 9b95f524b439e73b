"""Admin pages of our own that belong to no model (config/urls.py puts them in the admin's namespace)."""

from django.contrib import admin
from django.urls import path

from staff_home.revenue import revenue_report_view

urlpatterns = [
    path("revenue/", admin.site.admin_view(revenue_report_view), name="revenue_report"),
]
