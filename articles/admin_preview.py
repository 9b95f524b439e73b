"""“Preview on my WeChat”: a Push admin action that sends the push to one person with message/mass/preview.

A mixin, so the Push admin (wherever it is defined) gains it by adding PushPreviewMixin to its
bases and "preview_on_wechat" to its actions. Preview uses no mass-send quota (群发接口: 预览接口);
the draft it makes is reused by the real send while the articles stay unchanged.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.validators import RegexValidator
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from articles.images import ImageCannotFit
from articles.models import Push
from articles.services.sending import ArticleImageMissing, push_preview_send
from wechat.errors import WeChatPermanentError, WeChatTransientError
from wechat.official_account_errcodes import wechat_error_reason
from wechat.official_account_mass_send import PreviewRecipientRefused

# 群发接口 预览接口: touser is an openid (28 characters), towxname a WeChat id (6–20 letters, digits, _ or -).
RECIPIENT_VALIDATOR = RegexValidator(r"^[A-Za-z0-9_-]{6,64}$", _("An openid or a WeChat id: letters, digits, _ or -."))


class PreviewRecipientForm(forms.Form):
    recipient = forms.CharField(
        label=_("Your openid or WeChat id"),
        max_length=64,
        validators=[RECIPIENT_VALIDATOR],
        help_text=_("You must follow the account. An openid is 28 characters; anything else is taken as a WeChat id."),
    )


class PushPreviewMixin:
    """Adds the preview action and its page (admin:articles_push_preview) to a Push ModelAdmin."""

    @admin.action(description=_("Preview on my WeChat"), permissions=["send"])
    def preview_on_wechat(self, request, queryset):
        pushes = list(queryset[:2])
        if len(pushes) != 1:
            self.message_user(request, _("Pick exactly one push to preview."), messages.WARNING)
            return None
        return redirect(reverse("admin:articles_push_preview", args=[pushes[0].pk]))

    def has_send_permission(self, request) -> bool:
        return request.user.has_perm("articles.send_push")

    def get_urls(self):
        preview = path(
            "<int:push_id>/preview/",
            self.admin_site.admin_view(self.preview_view),
            name="articles_push_preview",
        )
        return [preview, *super().get_urls()]

    def preview_view(self, request, push_id: int):
        if not self.has_send_permission(request):
            raise PermissionDenied
        push = get_object_or_404(Push.objects.select_related("account"), pk=push_id)
        form = PreviewRecipientForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            recipient = form.cleaned_data["recipient"]
            try:
                push_preview_send(push_id=push.pk, recipient=recipient)
            except WeChatPermanentError as refused:
                field = "recipient" if isinstance(refused, PreviewRecipientRefused) else None
                form.add_error(field, wechat_error_reason(refused))
            except WeChatTransientError:
                form.add_error(None, _("WeChat is busy right now; try again in a minute."))
            except (ImageCannotFit, ArticleImageMissing) as problem:
                form.add_error(None, str(problem))
            else:
                self.message_user(
                    request,
                    _("“%(push)s” was sent to %(recipient)s for preview.") % {"push": push, "recipient": recipient},
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:articles_push_change", args=[push.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Preview “%(push)s” on WeChat") % {"push": push},
            "opts": self.opts,
            "push": push,
            "form": form,
        }
        return TemplateResponse(request, "admin/articles/push/preview.html", context)
