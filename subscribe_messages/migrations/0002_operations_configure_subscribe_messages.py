"""Operations staff configure the subscribe message templates and read what buyers were sent and accepted.

Messages, their events and acceptances are written by the worker and the API only: staff read them.
"""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

STAFF_GROUP_GRANTS = {
    "Operations": {
        "subscribe_messages.subscribemessagetemplate": ["add", "change", "delete", "view"],
        "subscribe_messages.templatekeyword": ["add", "change", "delete", "view"],
        "subscribe_messages.subscribemessage": ["view"],
        "subscribe_messages.subscribemessageevent": ["view"],
        "subscribe_messages.subscriptionacceptance": ["view"],
    }
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("subscribe_messages", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
