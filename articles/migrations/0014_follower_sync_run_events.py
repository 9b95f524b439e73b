"""Follower syncs gain an event history, as pushes have; Marketing, who read the syncs, read their events.

Existing syncs get no invented history: their timeline starts with the next change.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {"Marketing": {"articles.followersyncrunevent": ["view"]}}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0013_push_event_actors"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="FollowerSyncRunEvent",
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
                        to="articles.followersyncrun",
                    ),
                ),
                (
                    "staff_user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="follower_sync_run_events",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "follower sync event",
                "verbose_name_plural": "follower sync events",
                "ordering": ["at", "id"],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
