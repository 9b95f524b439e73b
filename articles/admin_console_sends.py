"""Mass sends made in WeChat's own console, recorded by staff because they use the same quota.

群发接口和原创校验 (前言): a send from the MP console counts in a subscription account's one a
day and in a service account's four to all followers a month. WeChat tells us of them only by
answering 45028 later; recording them here lets scheduling count them first.
"""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from articles.models import ConsoleMassSend
from articles.quota_windows import beijing_time_label
from articles.services.quota import ConsoleSendInvalid, console_send_record, console_send_time_check


class ConsoleMassSendForm(forms.ModelForm):
    class Meta:
        model = ConsoleMassSend
        fields = ["account", "sent_at", "note"]
        help_texts = {
            "sent_at": _("When it was sent from mp.weixin.qq.com, in Beijing time."),
            "note": _("What was sent, so colleagues recognise it."),
        }

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("sent_at") is not None:
            try:
                # The service checks again; here the refusal shows beside its field.
                console_send_time_check(cleaned["sent_at"])
            except ConsoleSendInvalid as refusal:
                for name, field_messages in refusal.fields.items():
                    for message in field_messages:
                        self.add_error(name, message)
        return cleaned


@admin.register(ConsoleMassSend)
class ConsoleMassSendAdmin(ModelAdmin):
    form = ConsoleMassSendForm
    list_display = ["account", "sent_at_beijing", "note", "recorded_by"]
    list_filter = ["account"]
    list_select_related = ["account", "recorded_by"]
    date_hierarchy = "sent_at"

    @admin.display(description=_("sent at (Beijing time)"), ordering="sent_at")
    def sent_at_beijing(self, send: ConsoleMassSend) -> str:
        return beijing_time_label(send.sent_at)

    def has_change_permission(self, request, obj=None):
        # A recorded send is history the quota was counted from: superusers correct it.
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        saved = console_send_record(account=obj.account, sent_at=obj.sent_at, note=obj.note, staff_user=request.user)
        obj.pk = saved.pk
        obj._state.adding = False
