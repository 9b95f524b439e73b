import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.services import demo_data_load


class Command(BaseCommand):
    help = (
        "Load demo categories, products, SKUs and articles, and a superuser 'demo' in both staff groups. "
        "Safe to run again. The password is DEMO_ADMIN_PASSWORD when set; otherwise a random one when the "
        "user is created, and kept as it is on later runs."
    )

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError(
                "load_demo_data creates a superuser with a printed password, so it runs only with DJANGO_DEBUG=true."
            )
        # A command input rather than a setting: only this development command reads it.
        password = os.environ.get("DEMO_ADMIN_PASSWORD") or None
        summary = demo_data_load(admin_password=password)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {summary.category_count} categories, {summary.product_count} products, "
                f"{summary.sku_count} SKUs, {summary.article_count} articles."
            )
        )
        self.stdout.write("Admin login at /admin/:")
        self.stdout.write(f"  username: {summary.username}")
        if summary.password is None:
            self.stdout.write("  password: unchanged (printed when the user was created; DEMO_ADMIN_PASSWORD sets one)")
        else:
            self.stdout.write(f"  password: {summary.password}")
