from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin

from wechat.models import OfficialAccount
from wechat.services import official_account_save

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
