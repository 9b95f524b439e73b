"""Operations adjust stock: each adjustment is an audit row they add through the admin and may read back."""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Operations": {"catalog.stockadjustment": ["add", "view"]},
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("catalog", "0003_storefront"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
