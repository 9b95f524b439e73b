"""Operations staff read orders, their lines and timelines, and stock and sales, and ship orders.

Nobody edits an order in the admin: its status changes through the status service (the ship page).
"""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Operations": {
        "orders.order": ["view", "ship"],
        "orders.orderline": ["view"],
        "orders.orderevent": ["view"],
        "orders.skustockandsales": ["view"],
    }
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0002_schedule_order_expiry"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
