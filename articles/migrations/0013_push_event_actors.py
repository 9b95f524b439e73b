"""Push events say who made each change, as order, refund and payment events do.

An existing event with a staff member was staff's doing; every other one was the system's
(beat claiming a due push, the send task, WeChat's MASSSENDJOBFINISH or PUBLISHJOBFINISH).
"""

from django.db import migrations, models


def push_event_actors_fill(apps, schema_editor):
    PushEvent = apps.get_model("articles", "PushEvent")
    PushEvent.objects.using(schema_editor.connection.alias).filter(staff_user__isnull=False).update(actor="staff")


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0012_marketing_reads_follower_syncs"),
    ]

    operations = [
        migrations.AddField(
            model_name="pushevent",
            name="actor",
            field=models.CharField(
                choices=[
                    ("customer", "customer"),
                    ("staff", "staff"),
                    ("system", "system (scheduled task)"),
                    ("payment", "payment service"),
                ],
                default="system",
                max_length=16,
            ),
            preserve_default=False,
        ),
        migrations.RunPython(push_event_actors_fill, migrations.RunPython.noop),
    ]
