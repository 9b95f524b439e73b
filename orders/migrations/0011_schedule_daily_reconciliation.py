"""Reconcile yesterday's WeChat Pay bill every morning at 10:30 Beijing time, on the `reconciliation` queue.

WeChat makes a day's bill from 9:00 the next day and advises fetching it after 10:00 (下载交易账单).
The row lives in the database so staff can see, move or pause it in the admin.
"""

from django.db import migrations

TASK_NAME = "Reconcile yesterday's WeChat Pay bill"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    half_past_ten, _ = CrontabSchedule.objects.get_or_create(
        minute="30", hour="10", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "orders.tasks.reconcile_payments",
            "crontab": half_past_ten,
            "interval": None,
            "queue": "reconciliation",
            "enabled": True,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0010_reconciliation_runs_and_discrepancies"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
