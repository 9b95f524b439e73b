from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from config.encrypted_fields import EncryptedCharField, EncryptedTextField

# 公众号文档, 接入概述: the token is 3–32 letters or digits; the EncodingAESKey 43 letters or digits.
CALLBACK_TOKEN_VALIDATOR = RegexValidator(r"^[A-Za-z0-9]{3,32}$", _("3 to 32 letters or digits."))
AES_KEY_VALIDATOR = RegexValidator(
    r"^[A-Za-z0-9]{43}$", _("Exactly 43 letters or digits, as WeChat's console gives it.")
)
APPID_VALIDATOR = RegexValidator(r"^wx[0-9a-f]{16}$", _('An app id is "wx" and 16 hexadecimal digits.'))


class OfficialAccount(models.Model):
    """An Official Account we publish to: its credentials and how WeChat calls us back.

    The app secret, callback token and EncodingAESKey are encrypted at rest (key from the
    environment) and never shown again once saved: whoever reads the token can forge WeChat's calls.
    """

    class AccountType(models.TextChoices):
        SERVICE = "service", _("Service account (4 mass sends to all followers a month)")
        SUBSCRIPTION = "subscription", _("Subscription account (1 mass send a day)")

    class MessageMode(models.TextChoices):
        PLAIN = "plain", _("Plain text")
        COMPATIBLE = "compatible", _("Compatible (plain and encrypted)")
        SAFE = "safe", _("Safe (encrypted)")

    name = models.CharField(max_length=64, verbose_name=_("name"))
    appid = models.CharField(_("app ID"), max_length=18, unique=True, validators=[APPID_VALIDATOR])
    app_secret = EncryptedCharField(_("app secret"), max_length=64)
    account_type = models.CharField(max_length=16, choices=AccountType.choices, verbose_name=_("account type"))
    callback_token = EncryptedCharField(_("callback token"), max_length=32, validators=[CALLBACK_TOKEN_VALIDATOR])
    encoding_aes_key = EncryptedCharField(_("EncodingAESKey"), max_length=43, validators=[AES_KEY_VALIDATOR])
    message_mode = models.CharField(
        max_length=16, choices=MessageMode.choices, default=MessageMode.SAFE, verbose_name=_("message mode")
    )
    # WeChat shows a Mini Program's cards and links in an account's articles only when the two are
    # linked in its console (公众号 小程序管理 → 关联小程序); the article editor offers this one's.
    mini_program = models.ForeignKey(
        "MiniProgram",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="official_accounts",
        verbose_name=_("linked Mini Program"),
        help_text=_(
            "The Mini Program linked to this account in WeChat's console (Mini Program management → link a Mini "
            "Program). Articles may carry its cards and links."
        ),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("Official Account")
        verbose_name_plural = _("Official Accounts")

    def __str__(self) -> str:
        return f"{self.name} ({self.appid})"


# 微信支付 商户号: digits (8–10 today; 32 characters at most in every API that carries it).
MCH_ID_VALIDATOR = RegexValidator(r"^[0-9]{1,32}$", _("A merchant id is digits, as WeChat Pay gives it."))
# 商户API证书序列号 and 微信支付公钥ID: WeChat Pay shows them as hexadecimal / "PUB_KEY_ID_" and digits.
CERTIFICATE_SERIAL_VALIDATOR = RegexValidator(r"^[0-9A-Fa-f]{1,64}$", _("A certificate serial is hexadecimal."))
PUBLIC_KEY_ID_VALIDATOR = RegexValidator(
    r"^PUB_KEY_ID_[0-9]{1,64}$", _('A public key id reads "PUB_KEY_ID_" and digits.')
)
# APIv3密钥: 32 bytes, set by the merchant in the merchant platform (the AES-256-GCM key).
APIV3_KEY_VALIDATOR = RegexValidator(r"^[\x21-\x7e]{32}$", _("The APIv3 key is 32 letters, digits or symbols."))
# API密钥 (v2): 32 characters, set in the merchant platform.
API_KEY_VALIDATOR = RegexValidator(r"^[\x21-\x7e]{32}$", _("The API key is 32 letters, digits or symbols."))


class Merchant(models.Model):
    """A WeChat Pay merchant (商户号) our Mini Programs take payments through, and its credentials.

    A v2 merchant signs with its API key (and presents its API certificate for secapi/ refunds); a
    v3 merchant signs with its private key (certificate serial) and checks WeChat Pay's answers with
    WeChat Pay's public key (微信支付公钥 and its id) or, for older merchants, the platform
    certificates it downloads. Keys and secrets are encrypted at rest and never shown again once
    saved; the certificate files stay on disk where the settings name them, as before.
    """

    class ApiVersion(models.TextChoices):
        V2 = "v2", _("APIv2 (XML, signed with the API key)")
        V3 = "v3", _("APIv3 (JSON, signed with the merchant private key)")

    class SignType(models.TextChoices):
        MD5 = "MD5", _("MD5")
        HMAC_SHA256 = "HMAC-SHA256", _("HMAC-SHA256")

    class Verification(models.TextChoices):
        PUBLIC_KEY = "public_key", _("WeChat Pay public key (微信支付公钥)")
        PLATFORM_CERTIFICATE = "platform_certificate", _("Platform certificates (平台证书), downloaded")

    name = models.CharField(_("name"), max_length=64)
    mch_id = models.CharField(_("merchant id"), max_length=32, unique=True, validators=[MCH_ID_VALIDATOR])
    api_version = models.CharField(_("API version"), max_length=2, choices=ApiVersion.choices, default=ApiVersion.V3)
    # v2
    api_key = EncryptedCharField(
        _("API key (v2)"), max_length=32, blank=True, null=True, validators=[API_KEY_VALIDATOR]
    )
    sign_type = models.CharField(_("sign type (v2)"), max_length=16, choices=SignType.choices, default=SignType.MD5)
    # secapi/ (v2 refunds): apiclient_cert.pem and apiclient_key.pem, as WECHAT_PAY_CERT_PATH/_KEY_PATH name them.
    certificate_path = models.CharField(_("API certificate file (v2 refunds)"), max_length=255, blank=True)
    certificate_key_path = models.CharField(_("API certificate key file (v2 refunds)"), max_length=255, blank=True)
    # v3
    apiv3_key = EncryptedCharField(
        _("APIv3 key"), max_length=32, blank=True, null=True, validators=[APIV3_KEY_VALIDATOR]
    )
    private_key = EncryptedTextField(_("merchant private key (apiclient_key.pem)"), blank=True, null=True)
    certificate_serial = models.CharField(
        _("merchant certificate serial"), max_length=64, blank=True, validators=[CERTIFICATE_SERIAL_VALIDATOR]
    )
    verification = models.CharField(
        _("how WeChat Pay's answers are checked"),
        max_length=24,
        choices=Verification.choices,
        default=Verification.PUBLIC_KEY,
    )
    # Public, but whoever may replace it could make us trust forged notifications: write-only like a secret.
    wechatpay_public_key = EncryptedTextField(_("WeChat Pay public key (pub_key.pem)"), blank=True, null=True)
    wechatpay_public_key_id = models.CharField(
        _("WeChat Pay public key id"), max_length=80, blank=True, validators=[PUBLIC_KEY_ID_VALIDATOR]
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))
    # The encrypted fields store a blank value as NULL (django-fernet-encrypted-fields): read them as "".

    class Meta:
        ordering = ["name"]
        verbose_name = _("WeChat Pay merchant")
        verbose_name_plural = _("WeChat Pay merchants")

    def __str__(self) -> str:
        return f"{self.name} ({self.mch_id})"


class MiniProgram(models.Model):
    """A Mini Program whose shoppers log in to us (jscode2session with its secret) and pay through its merchant."""

    name = models.CharField(_("name"), max_length=64)
    appid = models.CharField(_("app ID"), max_length=32, unique=True, validators=[APPID_VALIDATOR])
    app_secret = EncryptedCharField(_("app secret"), max_length=64)
    merchant = models.ForeignKey(
        Merchant,
        on_delete=models.PROTECT,
        related_name="mini_programs",
        verbose_name=_("WeChat Pay merchant"),
        help_text=_("The merchant its orders are paid through (the app id must be bound to it at WeChat Pay)."),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["name"]
        verbose_name = _("Mini Program")
        verbose_name_plural = _("Mini Programs")

    def __str__(self) -> str:
        return f"{self.name} ({self.appid})"
