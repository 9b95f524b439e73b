"""Marketing builds pushes and schedules, cancels, retries and previews them (send_push).

No delete: a push that went out keeps its history; drafts are deleted by superusers.
"""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Marketing": {
        "articles.push": ["add", "change", "view", "send"],
    },
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0009_schedule_push_dispatch"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
