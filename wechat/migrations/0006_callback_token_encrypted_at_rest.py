"""The callback token is encrypted at rest like the app secret: whoever reads it can forge WeChat's calls to us.

The column becomes text (what the encrypted field stores); the data step rewrites each stored token
encrypted, and the way back writes it in plain text again before the column returns to varchar(32).
"""

import django.core.validators
from django.db import migrations

import config.encrypted_fields


def tokens_encrypt(apps, schema_editor):
    # A plain token does not decrypt, so the field reads it back as it is; saving it writes it encrypted.
    OfficialAccount = apps.get_model("wechat", "OfficialAccount")
    for account in OfficialAccount.objects.using(schema_editor.connection.alias).only("pk", "callback_token"):
        account.save(update_fields=["callback_token"])


def tokens_decrypt(apps, schema_editor):
    OfficialAccount = apps.get_model("wechat", "OfficialAccount")
    accounts = OfficialAccount.objects.using(schema_editor.connection.alias).only("pk", "callback_token")
    with schema_editor.connection.cursor() as cursor:
        for account in accounts:
            cursor.execute(
                "UPDATE wechat_officialaccount SET callback_token = %s WHERE id = %s",
                [account.callback_token, account.pk],
            )


class Migration(migrations.Migration):
    dependencies = [
        ("wechat", "0005_operations_view_merchants"),
    ]

    operations = [
        migrations.AlterField(
            model_name="officialaccount",
            name="callback_token",
            field=config.encrypted_fields.EncryptedCharField(
                max_length=32,
                validators=[django.core.validators.RegexValidator("^[A-Za-z0-9]{3,32}$", "3 to 32 letters or digits.")],
                verbose_name="callback token",
            ),
        ),
        migrations.RunPython(tokens_encrypt, tokens_decrypt),
    ]
