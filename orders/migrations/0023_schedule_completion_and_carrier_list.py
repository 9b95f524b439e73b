"""Beat schedules for shipped orders completing on their own and WeChat's carrier list; parcels of orders shipped before.

Orders shipped before parcels were rows get theirs from the order's carrier and tracking number, so the
order page lists them; WeChat is not told of them here (nothing is queued by a migration).
"""

from django.db import migrations

COMPLETE_TASK = "Complete orders delivered long enough ago"
CARRIERS_TASK = "Refresh WeChat's carrier list"
DELIVERY_IDS = {
    "sf": "SF",
    "zto": "ZTO",
    "yto": "YTO",
    "yunda": "YD",
    "sto": "STO",
    "jd": "JD",
    "ems": "EMS",
    "jtexpress": "JTSD",
    "chinapost": "YZPY",
    "deppon": "DBL",
}


def forwards(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    # Hourly: a day's lateness in completing is invisible to buyers, and the task claims in batches.
    hourly, _ = IntervalSchedule.objects.get_or_create(every=1, period="hours")
    daily, _ = IntervalSchedule.objects.get_or_create(every=1, period="days")
    PeriodicTask.objects.update_or_create(
        name=COMPLETE_TASK,
        defaults={"task": "orders.tasks.complete_delivered_orders", "interval": hourly, "queue": "orders"},
    )
    PeriodicTask.objects.update_or_create(
        name=CARRIERS_TASK,
        defaults={"task": "orders.tasks.refresh_delivery_companies", "interval": daily, "queue": "orders"},
    )
    Order = apps.get_model("orders", "Order")
    Shipment = apps.get_model("orders", "Shipment")
    shipped = Order.objects.exclude(tracking_number="").exclude(shipments__isnull=False)
    Shipment.objects.bulk_create(
        Shipment(
            order=order,
            carrier=order.carrier,
            delivery_id=DELIVERY_IDS.get(order.carrier, ""),
            tracking_number=order.tracking_number,
        )
        for order in shipped.iterator()
    )


def backwards(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[COMPLETE_TASK, CARRIERS_TASK]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0022_shipments_and_wechat_shipping_reports"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
