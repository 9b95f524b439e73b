"""Marketing, who sync followers, read how each sync went."""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {"Marketing": {"articles.followersyncrun": ["view"]}}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0011_follower_sync_runs"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
