from django.core.validators import RegexValidator
from django.db import models
from encrypted_fields.fields import EncryptedCharField

# 公众号文档, 接入概述: the token is 3–32 letters or digits; the EncodingAESKey 43 letters or digits.
CALLBACK_TOKEN_VALIDATOR = RegexValidator(r"^[A-Za-z0-9]{3,32}$", "3 to 32 letters or digits.")
AES_KEY_VALIDATOR = RegexValidator(r"^[A-Za-z0-9]{43}$", "Exactly 43 letters or digits, as WeChat's console gives it.")
APPID_VALIDATOR = RegexValidator(r"^wx[0-9a-f]{16}$", 'An app id is "wx" and 16 hexadecimal digits.')


class OfficialAccount(models.Model):
    """An Official Account we publish to: its credentials and how WeChat calls us back.

    The app secret and EncodingAESKey are encrypted at rest (key from the environment)
    and never shown again once saved.
    """

    class AccountType(models.TextChoices):
        SERVICE = "service", "Service account (4 mass sends a month)"
        SUBSCRIPTION = "subscription", "Subscription account (1 mass send a day)"

    class MessageMode(models.TextChoices):
        PLAIN = "plain", "Plain text"
        COMPATIBLE = "compatible", "Compatible (plain and encrypted)"
        SAFE = "safe", "Safe (encrypted)"

    name = models.CharField(max_length=64)
    appid = models.CharField("app ID", max_length=18, unique=True, validators=[APPID_VALIDATOR])
    app_secret = EncryptedCharField("app secret", max_length=64)
    account_type = models.CharField(max_length=16, choices=AccountType.choices)
    callback_token = models.CharField(max_length=32, validators=[CALLBACK_TOKEN_VALIDATOR])
    encoding_aes_key = EncryptedCharField("EncodingAESKey", max_length=43, validators=[AES_KEY_VALIDATOR])
    message_mode = models.CharField(max_length=16, choices=MessageMode.choices, default=MessageMode.SAFE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "Official Account"
        verbose_name_plural = "Official Accounts"

    def __str__(self) -> str:
        return f"{self.name} ({self.appid})"
