import os
import secrets

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.services import demo_data_load


class Command(BaseCommand):
    help = (
        "Load demo categories, products, SKUs and articles, and a superuser 'demo' in both staff groups. "
        "Safe to run again. The password is random each run unless DEMO_ADMIN_PASSWORD is set."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "load_demo_data creates a superuser with a printed password, so it runs only with DJANGO_DEBUG=true."
            )
        # A command input rather than a setting: only this development command reads it.
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        summary = demo_data_load(admin_password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {summary.category_count} categories, {summary.product_count} products, "
                f"{summary.sku_count} SKUs, {summary.article_count} articles."
            )
        )
        self.stdout.write("Admin login at /admin/:")
        self.stdout.write(f"  username: {summary.username}")
        self.stdout.write(f"  password: {summary.password}")
