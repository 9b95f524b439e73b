"""Marketing picks tags and followers as push audiences, so it reads them and may sync them from WeChat."""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Marketing": {
        "articles.follower": ["view"],
        "articles.followertag": ["view"],
        "articles.followedaccount": ["view", "sync"],
    },
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0005_followed_account_for_follower_sync"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
