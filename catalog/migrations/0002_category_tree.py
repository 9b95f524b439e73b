"""Categories become a django-treebeard materialized-path tree.

Existing categories become roots, in the order the storefront showed them
(position, then name), so nothing moves for the customer.
"""

from django.db import migrations, models

STEP_LENGTH = 4  # treebeard's MP_Node.steplen
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # treebeard's MP_Node.alphabet


def _step(number: int) -> str:
    digits = ""
    while number:
        number, remainder = divmod(number, len(ALPHABET))
        digits = ALPHABET[remainder] + digits
    return digits.rjust(STEP_LENGTH, "0")


def categories_become_roots(apps, schema_editor):
    Category = apps.get_model("catalog", "Category")
    for number, category in enumerate(Category.objects.order_by("position", "name", "id"), start=1):
        category.path = _step(number)
        category.depth = 1
        category.numchild = 0
        category.save(update_fields=["path", "depth", "numchild"])


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [
        migrations.AlterModelOptions(
            name="category", options={"verbose_name": "category", "verbose_name_plural": "categories"}
        ),
        migrations.AddField(model_name="category", name="depth", field=models.PositiveIntegerField(default=1)),
        migrations.AddField(model_name="category", name="numchild", field=models.PositiveIntegerField(default=0)),
        migrations.AddField(model_name="category", name="path", field=models.CharField(max_length=255, null=True)),
        migrations.RunPython(categories_become_roots, migrations.RunPython.noop),
        migrations.AlterField(model_name="category", name="depth", field=models.PositiveIntegerField()),
        migrations.AlterField(model_name="category", name="path", field=models.CharField(max_length=255, unique=True)),
    ]
