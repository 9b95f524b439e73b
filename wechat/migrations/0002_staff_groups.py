"""Marketing publishes to the Official Accounts, so it sees them (never their secrets); adding one is an admin's job."""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {"Marketing": {"wechat.officialaccount": ["view"]}}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("wechat", "0001_official_account"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
