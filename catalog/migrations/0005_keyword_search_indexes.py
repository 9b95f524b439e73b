"""Trigram indexes for the storefront's keyword search, on PostgreSQL only (see catalog/selectors.py).

They index UPPER(column), the expression Django's icontains compares on
PostgreSQL, so the planner can use them for `title__icontains`. pg_trgm is a
trusted extension: the database's owner may create it.
"""

from django.db import migrations

SEARCHED_COLUMNS = ["title", "subtitle"]


def indexes_create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for column in SEARCHED_COLUMNS:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS catalog_product_{column}_trgm "
            f"ON catalog_product USING gin (UPPER({column}::text) gin_trgm_ops)"
        )


def indexes_drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for column in SEARCHED_COLUMNS:
        schema_editor.execute(f"DROP INDEX IF EXISTS catalog_product_{column}_trgm")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_staff_group_grants")]

    operations = [migrations.RunPython(indexes_create, indexes_drop)]
