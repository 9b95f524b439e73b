"""Marketing and Operations read the revenue report (/admin/revenue/): Marketing judges its pushes, articles and
posters by what they earned; Operations answers for the money, refunds included. Superusers have every permission.
"""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Marketing": {"campaigns.campaign": ["view_revenue"]},
    "Operations": {"campaigns.campaign": ["view_revenue"]},
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0003_revenue_report_permission"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
