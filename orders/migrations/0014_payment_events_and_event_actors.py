"""Payments gain an event history, and refund events say who made each change, as order and push events do.

Existing refund events get their actor from what they record: a request was staff's (the refund's
`requested_by`), every later change the payment service's. Existing payments get no invented
history: their timeline starts with the next change. Operations staff read payment events beside
the payment, as they read refund events.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.db.models import OuterRef, Subquery

from config.staff_groups import staff_group_migration_functions

ACTOR_CHOICES = [
    ("customer", "customer"),
    ("staff", "staff"),
    ("system", "system (scheduled task)"),
    ("payment", "payment service"),
]
PAYMENT_STATUS_CHOICES = [
    ("pending", "awaiting payment"),
    ("paid", "paid"),
    ("closed", "closed at WeChat"),
    ("failed", "failed"),
]

STAFF_GROUP_GRANTS = {"Operations": {"orders.paymentevent": ["view"]}}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


def refund_event_actors_fill(apps, schema_editor):
    RefundEvent = apps.get_model("orders", "RefundEvent")
    Refund = apps.get_model("orders", "Refund")
    events = RefundEvent.objects.using(schema_editor.connection.alias)
    requested_by = Refund.objects.filter(pk=OuterRef("refund_id")).values("requested_by_id")[:1]
    events.filter(to_status="requested").update(actor="staff", staff_user_id=Subquery(requested_by))
    events.exclude(to_status="requested").update(actor="payment")


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0013_order_indexes_written_per_order"),
        ("auth", "0012_alter_user_first_name_max_length"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="refundevent",
            name="actor",
            field=models.CharField(choices=ACTOR_CHOICES, default="payment", max_length=16),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="refundevent",
            name="staff_user",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="refund_events",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.RunPython(refund_event_actors_fill, migrations.RunPython.noop),
        migrations.CreateModel(
            name="PaymentEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("from_status", models.CharField(blank=True, choices=PAYMENT_STATUS_CHOICES, max_length=16)),
                ("to_status", models.CharField(choices=PAYMENT_STATUS_CHOICES, max_length=16)),
                ("actor", models.CharField(choices=ACTOR_CHOICES, max_length=16)),
                ("reason", models.CharField(blank=True, max_length=200)),
                ("at", models.DateTimeField(auto_now_add=True)),
                (
                    "payment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="events", to="orders.payment"
                    ),
                ),
                (
                    "staff_user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payment_events",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "payment event",
                "verbose_name_plural": "payment events",
                "ordering": ["at", "id"],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
