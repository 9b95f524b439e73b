"""Operations may log a customer out of every device (a lost phone, a leaked token): a permission of its own,
since Operations only views customers otherwise."""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {"Operations": {"customers.customer": ["revoke_tokens"]}}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0004_customer_belongs_to_mini_program"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="customer",
            options={
                "ordering": ["-created_at"],
                "permissions": [("revoke_tokens_customer", "Can log a customer out of every device")],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
