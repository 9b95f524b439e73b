"""Marketing reads WeChat's statistics of the accounts' articles and followers (never edits them)."""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Marketing": {
        "articles.articledailystatistics": ["view"],
        "articles.articletotalstatistics": ["view"],
        "articles.followersourcedailystatistics": ["view"],
        "articles.followerdailystatistics": ["view"],
        "articles.statisticsday": ["view"],
    }
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0020_schedule_statistics_sync"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
