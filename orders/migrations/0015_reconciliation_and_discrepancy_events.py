"""Reconciliation runs and discrepancies gain an event history, as orders, payments and refunds have.

Existing runs and discrepancies get no invented history: their timeline starts with the next
change (a resolved discrepancy keeps who, when and why on its own row). Operations staff read the
events beside the run and the discrepancy.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Operations": {"orders.reconciliationrunevent": ["view"], "orders.discrepancyevent": ["view"]},
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0014_payment_events_and_event_actors"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="DiscrepancyEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "from_status",
                    models.CharField(blank=True, choices=[("open", "open"), ("resolved", "resolved")], max_length=16),
                ),
                ("to_status", models.CharField(choices=[("open", "open"), ("resolved", "resolved")], max_length=16)),
                (
                    "actor",
                    models.CharField(
                        choices=[
                            ("customer", "customer"),
                            ("staff", "staff"),
                            ("system", "system (scheduled task)"),
                            ("payment", "payment service"),
                        ],
                        max_length=16,
                    ),
                ),
                ("reason", models.CharField(blank=True, max_length=300)),
                ("at", models.DateTimeField(auto_now_add=True)),
                (
                    "discrepancy",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="events", to="orders.discrepancy"
                    ),
                ),
                (
                    "staff_user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="discrepancy_events",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "discrepancy event",
                "verbose_name_plural": "discrepancy events",
                "ordering": ["at", "id"],
            },
        ),
        migrations.CreateModel(
            name="ReconciliationRunEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "from_status",
                    models.CharField(
                        blank=True,
                        choices=[("running", "running"), ("succeeded", "succeeded"), ("failed", "failed")],
                        max_length=16,
                    ),
                ),
                (
                    "to_status",
                    models.CharField(
                        choices=[("running", "running"), ("succeeded", "succeeded"), ("failed", "failed")],
                        max_length=16,
                    ),
                ),
                (
                    "actor",
                    models.CharField(
                        choices=[
                            ("customer", "customer"),
                            ("staff", "staff"),
                            ("system", "system (scheduled task)"),
                            ("payment", "payment service"),
                        ],
                        max_length=16,
                    ),
                ),
                ("reason", models.CharField(blank=True, max_length=300)),
                ("at", models.DateTimeField(auto_now_add=True)),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="events",
                        to="orders.reconciliationrun",
                    ),
                ),
                (
                    "staff_user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="reconciliation_run_events",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "reconciliation run event",
                "verbose_name_plural": "reconciliation run events",
                "ordering": ["at", "id"],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
