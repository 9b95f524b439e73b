"""Operations staff read reconciliation runs, reconcile a date, and resolve discrepancies.

Nobody edits a run or a discrepancy's findings: runs are written by reconciliation, and a
discrepancy changes only by being resolved (the admin action, through the service).
"""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Operations": {
        "orders.reconciliationrun": ["view", "start"],
        "orders.discrepancy": ["view", "resolve"],
    }
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0011_schedule_daily_reconciliation"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
