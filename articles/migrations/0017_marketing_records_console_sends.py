"""Marketing records the mass sends it makes in WeChat's console, which count in the quota.

No change or delete for them: a wrong entry is corrected by a superuser, so the quota's history stays as recorded.
"""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Marketing": {
        "articles.consolemasssend": ["add", "view"],
    },
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0016_console_sends_and_follower_monthly_receipts"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
