"""Marketing starts campaigns (posters, livestreams) and asks for Mini Program codes; Operations sees them.

No delete: a campaign's code is printed on posters and carried by orders, so it outlives its use.
"""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Marketing": {
        "campaigns.campaign": ["add", "change", "view"],
        "campaigns.miniprogramcode": ["add", "view"],
    },
    "Operations": {
        "campaigns.campaign": ["view"],
        "campaigns.miniprogramcode": ["view"],
    },
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_campaigns_and_mini_program_codes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
