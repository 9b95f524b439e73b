from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from config.admin_secrets import SecretFieldsAdminMixin, WriteOnlySecretsForm
from wechat.merchant_credentials import (
    merchant_credentials_missing,
    merchant_private_key_clean,
    wechatpay_public_key_clean,
)
from wechat.models import Merchant, MiniProgram, OfficialAccount
from wechat.services import merchant_save, mini_program_save, official_account_save


class OfficialAccountForm(WriteOnlySecretsForm):
    """The app secret, callback token and EncodingAESKey are write-only (config.admin_secrets)."""

    secrets_required_when_adding = ("app_secret", "callback_token", "encoding_aes_key")

    class Meta:
        model = OfficialAccount
        fields = [
            "name",
            "appid",
            "account_type",
            "app_secret",
            "callback_token",
            "encoding_aes_key",
            "message_mode",
            "mini_program",
        ]


@admin.register(OfficialAccount)
class OfficialAccountAdmin(SecretFieldsAdminMixin, ModelAdmin):
    form = OfficialAccountForm
    list_display = ["name", "appid", "account_type", "message_mode", "mini_program", "callback_url"]
    list_select_related = ["mini_program"]
    search_fields = ["name", "appid"]
    readonly_fields = ["callback_url", "created_at", "updated_at"]

    @admin.display(description=_("callback path (after this site's public https address, in WeChat's console)"))
    def callback_url(self, account: OfficialAccount) -> str:
        if not account.pk:
            return _("shown once the account is saved")
        return format_html("<code>{}</code>", reverse("wechat:official-account-callback", args=[account.appid]))

    def save_model(self, request, obj, form, change):
        official_account_save(
            account=obj, credentials_changed=bool(form.data.get("app_secret")) or "appid" in form.changed_data
        )


# --- WeChat Pay merchants and Mini Programs ---------------------------------------------------------


class MerchantForm(WriteOnlySecretsForm):
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
        for name, message in merchant_credentials_missing(cleaned).items():
            self.add_error(name, message)
        return cleaned


class MiniProgramForm(WriteOnlySecretsForm):
    secrets_required_when_adding = ("app_secret",)

    class Meta:
        model = MiniProgram
        fields = ["name", "appid", "app_secret", "merchant"]


@admin.register(Merchant)
class MerchantAdmin(SecretFieldsAdminMixin, ModelAdmin):
    form = MerchantForm
    list_display = ["name", "mch_id", "api_version", "verification"]
    list_filter = ["api_version"]
    search_fields = ["name", "mch_id"]
    readonly_fields = ["created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        merchant_save(merchant=obj)


@admin.register(MiniProgram)
class MiniProgramAdmin(SecretFieldsAdminMixin, ModelAdmin):
    form = MiniProgramForm
    list_display = ["name", "appid", "merchant"]
    list_select_related = ["merchant"]
    search_fields = ["name", "appid", "merchant__mch_id"]
    readonly_fields = ["created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        mini_program_save(
            mini_program=obj, credentials_changed=bool(form.data.get("app_secret")) or "appid" in form.changed_data
        )
