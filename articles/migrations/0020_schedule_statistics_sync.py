"""Sync WeChat's statistics every morning at 9:00 Beijing time, on the `followers` queue.

数据统计 (图文分析, 用户分析): "为确保公众号数据已完成统计和处理，请于每天上午8点后查询公众号前一天的
数据": yesterday's figures are ready after 8:00; an hour's margin. The row lives in the database so
staff can see, move or pause it in the admin.
"""

from django.db import migrations

TASK_NAME = "Sync WeChat's statistics of every Official Account"


def create_schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    nine, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="9", day_of_week="*", day_of_month="*", month_of_year="*", timezone="Asia/Shanghai"
    )
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "articles.tasks.sync_statistics_of_every_account",
            "crontab": nine,
            "interval": None,
            "queue": "followers",
            "enabled": True,
        },
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0019_wechat_statistics"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
