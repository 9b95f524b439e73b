from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from wechat.merchant_credentials import (
    merchant_credentials_missing,
    merchant_private_key_clean,
    wechatpay_public_key_clean,
)
from wechat.models import Merchant, MiniProgram, OfficialAccount
from wechat.services import merchant_save, mini_program_save, official_account_save

WRITE_ONLY_HELP = "Stored encrypted and never shown again. Leave blank to keep the current value."


class OfficialAccountForm(forms.ModelForm):
    """The app secret and EncodingAESKey are write-only: required when adding, blank keeps them when editing."""

    app_secret = forms.CharField(widget=forms.PasswordInput, required=False, max_length=64, help_text=WRITE_ONLY_HELP)
    encoding_aes_key = forms.CharField(
        label="EncodingAESKey", widget=forms.PasswordInput, required=False, max_length=43, help_text=WRITE_ONLY_HELP
    )

    class Meta:
        model = OfficialAccount
        fields = ["name", "appid", "account_type", "app_secret", "callback_token", "encoding_aes_key", "message_mode"]

    def clean(self):
        cleaned = super().clean()
        kept = [name for name in ("app_secret", "encoding_aes_key") if not cleaned.get(name)]
        if kept and self.instance.pk:
            stored = OfficialAccount.objects.get(pk=self.instance.pk)
            cleaned.update({name: getattr(stored, name) for name in kept})
        else:
            for name in kept:
                self.add_error(name, "Required for a new account.")
        return cleaned


@admin.register(OfficialAccount)
class OfficialAccountAdmin(ModelAdmin):
    form = OfficialAccountForm
    list_display = ["name", "appid", "account_type", "message_mode", "callback_url"]
    search_fields = ["name", "appid"]
    readonly_fields = ["callback_url", "created_at", "updated_at"]

    @admin.display(description="callback path (after this site's public https address, in WeChat's console)")
    def callback_url(self, account: OfficialAccount) -> str:
        if not account.pk:
            return "shown once the account is saved"
        return format_html("<code>{}</code>", reverse("wechat:official-account-callback", args=[account.appid]))

    def save_model(self, request, obj, form, change):
        official_account_save(
            account=obj, credentials_changed=bool(form.data.get("app_secret")) or "appid" in form.changed_data
        )


# --- WeChat Pay merchants and Mini Programs ---------------------------------------------------------

SECRET_HELP = _("Stored encrypted and never shown again. Leave blank to keep the current value.")
MERCHANT_SECRET_FIELDS = ("api_key", "apiv3_key", "private_key", "wechatpay_public_key")
MINI_PROGRAM_SECRET_FIELDS = ("app_secret",)


class WriteOnlySecretsForm(forms.ModelForm):
    """Secrets are write-only: never put back into the page, blank keeps the stored value when editing."""

    secret_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.secret_fields:
            self.initial[name] = ""  # a Textarea would render the stored value otherwise
            self.fields[name].required = False
            self.fields[name].help_text = SECRET_HELP

    def _secrets_kept(self, cleaned: dict) -> None:
        """Blank secrets of a saved row keep their stored values."""
        if not self.instance.pk:
            return
        kept = [name for name in self.secret_fields if not cleaned.get(name)]
        if kept:
            stored = type(self.instance).objects.get(pk=self.instance.pk)
            cleaned.update({name: getattr(stored, name) for name in kept})


class MerchantForm(WriteOnlySecretsForm):
    secret_fields = MERCHANT_SECRET_FIELDS

    api_key = forms.CharField(label=_("API key (v2)"), widget=forms.PasswordInput, max_length=32)
    apiv3_key = forms.CharField(label=_("APIv3 key"), widget=forms.PasswordInput, max_length=32)
    private_key = forms.CharField(label=_("merchant private key (apiclient_key.pem)"), widget=forms.Textarea)
    wechatpay_public_key = forms.CharField(label=_("WeChat Pay public key (pub_key.pem)"), widget=forms.Textarea)

    class Meta:
        model = Merchant
        fields = [
            "name",
            "mch_id",
            "api_version",
            "api_key",
            "sign_type",
            "certificate_path",
            "certificate_key_path",
            "apiv3_key",
            "private_key",
            "certificate_serial",
            "verification",
            "wechatpay_public_key",
            "wechatpay_public_key_id",
        ]

    def clean_private_key(self) -> str:
        return merchant_private_key_clean(self.cleaned_data.get("private_key", ""))

    def clean_wechatpay_public_key(self) -> str:
        return wechatpay_public_key_clean(self.cleaned_data.get("wechatpay_public_key", ""))

    def clean(self):
        cleaned = super().clean()
        self._secrets_kept(cleaned)
        for name, message in merchant_credentials_missing(cleaned).items():
            self.add_error(name, message)
        return cleaned


class MiniProgramForm(WriteOnlySecretsForm):
    secret_fields = MINI_PROGRAM_SECRET_FIELDS

    app_secret = forms.CharField(label=_("app secret"), widget=forms.PasswordInput, max_length=64)

    class Meta:
        model = MiniProgram
        fields = ["name", "appid", "app_secret", "merchant"]

    def clean(self):
        cleaned = super().clean()
        self._secrets_kept(cleaned)
        if not cleaned.get("app_secret"):
            self.add_error("app_secret", _("Required for a new Mini Program."))
        return cleaned


class SecretsHiddenFromReadersMixin:
    """Staff who may only view a row see its other fields; the encrypted ones are not on their page at all."""

    secret_fields: tuple[str, ...] = ()

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if self.has_change_permission(request, obj):
            return fields
        return [name for name in fields if name not in self.secret_fields]


@admin.register(Merchant)
class MerchantAdmin(SecretsHiddenFromReadersMixin, ModelAdmin):
    form = MerchantForm
    secret_fields = MERCHANT_SECRET_FIELDS
    list_display = ["name", "mch_id", "api_version", "verification"]
    list_filter = ["api_version"]
    search_fields = ["name", "mch_id"]
    readonly_fields = ["created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        merchant_save(merchant=obj)


@admin.register(MiniProgram)
class MiniProgramAdmin(SecretsHiddenFromReadersMixin, ModelAdmin):
    form = MiniProgramForm
    secret_fields = MINI_PROGRAM_SECRET_FIELDS
    list_display = ["name", "appid", "merchant"]
    list_select_related = ["merchant"]
    search_fields = ["name", "appid", "merchant__mch_id"]
    readonly_fields = ["created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        mini_program_save(
            mini_program=obj, credentials_changed=bool(form.data.get("app_secret")) or "appid" in form.changed_data
        )
