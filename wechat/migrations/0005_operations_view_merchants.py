"""Operations handles payments and refunds, so it sees the merchants and Mini Programs they go through (never
their secrets); adding or changing one is an admin's job, as for Official Accounts."""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {"Operations": {"wechat.merchant": ["view"], "wechat.miniprogram": ["view"]}}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("wechat", "0004_mini_programs_and_merchants"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
