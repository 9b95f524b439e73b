"""Staff groups: Marketing writes articles, Operations runs the catalog.

Later migrations change what a group may do with their own grants table and
the same two functions, so each one reverses exactly what it added.
"""

from django.db import migrations

from config.staff_groups import staff_group_migration_functions

ALL_ACTIONS = ["add", "change", "delete", "view"]
CATALOG_MODELS = ["catalog.category", "catalog.product", "catalog.sku", "catalog.productimage"]

STAFF_GROUP_GRANTS = {
    "Marketing": {
        "articles.article": ALL_ACTIONS,
        **{model_label: ["view"] for model_label in CATALOG_MODELS},
    },
    "Operations": {
        **{model_label: ALL_ACTIONS for model_label in CATALOG_MODELS},
        "articles.article": ["view"],
    },
}

grant, revoke = staff_group_migration_functions(STAFF_GROUP_GRANTS)


class Migration(migrations.Migration):
    dependencies = [
        ("articles", "0001_initial"),
        ("catalog", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
