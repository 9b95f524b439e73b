"""Operations staff refund orders and read refunds and their timelines (refunds change only through services)."""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Operations": {
        "orders.order": ["refund"],
        "orders.refund": ["view"],
        "orders.refundevent": ["view"],
    }
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0008_schedule_refund_settling"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
