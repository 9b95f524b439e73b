"""Operations staff read WeChat Pay payments and the notifications WeChat sent about them.

Nobody edits either in the admin: payments change through the payment services, notifications are appended.
"""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Operations": {
        "orders.payment": ["view"],
        "orders.paymentnotification": ["view"],
    }
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0005_payment_notifications"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
