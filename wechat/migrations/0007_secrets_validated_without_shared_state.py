"""The secrets' fields move to config.encrypted_fields (a clean() without shared state); no column changes."""

import django.core.validators
from django.db import migrations

import config.encrypted_fields


class Migration(migrations.Migration):
    dependencies = [
        ("wechat", "0006_callback_token_encrypted_at_rest"),
    ]

    operations = [
        migrations.AlterField(
            model_name="merchant",
            name="api_key",
            field=config.encrypted_fields.EncryptedCharField(
                blank=True,
                max_length=32,
                null=True,
                validators=[
                    django.core.validators.RegexValidator(
                        "^[\\x21-\\x7e]{32}$", "The API key is 32 letters, digits or symbols."
                    )
                ],
                verbose_name="API key (v2)",
            ),
        ),
        migrations.AlterField(
            model_name="merchant",
            name="apiv3_key",
            field=config.encrypted_fields.EncryptedCharField(
                blank=True,
                max_length=32,
                null=True,
                validators=[
                    django.core.validators.RegexValidator(
                        "^[\\x21-\\x7e]{32}$", "The APIv3 key is 32 letters, digits or symbols."
                    )
                ],
                verbose_name="APIv3 key",
            ),
        ),
        migrations.AlterField(
            model_name="merchant",
            name="private_key",
            field=config.encrypted_fields.EncryptedTextField(
                blank=True, null=True, verbose_name="merchant private key (apiclient_key.pem)"
            ),
        ),
        migrations.AlterField(
            model_name="merchant",
            name="wechatpay_public_key",
            field=config.encrypted_fields.EncryptedTextField(
                blank=True, null=True, verbose_name="WeChat Pay public key (pub_key.pem)"
            ),
        ),
        migrations.AlterField(
            model_name="miniprogram",
            name="app_secret",
            field=config.encrypted_fields.EncryptedCharField(max_length=64, verbose_name="app secret"),
        ),
        migrations.AlterField(
            model_name="officialaccount",
            name="app_secret",
            field=config.encrypted_fields.EncryptedCharField(max_length=64, verbose_name="app secret"),
        ),
        migrations.AlterField(
            model_name="officialaccount",
            name="encoding_aes_key",
            field=config.encrypted_fields.EncryptedCharField(
                max_length=43,
                validators=[
                    django.core.validators.RegexValidator(
                        "^[A-Za-z0-9]{43}$", "Exactly 43 letters or digits, as WeChat's console gives it."
                    )
                ],
                verbose_name="EncodingAESKey",
            ),
        ),
    ]
