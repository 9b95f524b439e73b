"""Beat schedules live in the database so staff can see and pause them in the admin."""

from django.db import migrations

TASK_NAME = "Send due pushes"


def create_schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # Each minute: a push leaves at most a minute late, and a run finding nothing costs a few indexed queries.
    # No queue here: CELERY_TASK_ROUTES sends articles' tasks to the mass_send queue.
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=1, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={"task": "articles.tasks.dispatch_pushes", "interval": every_minute, "enabled": True},
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0008_send_steps_and_uploaded_images"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
