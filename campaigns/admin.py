from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from campaigns.code_services import mini_program_code_check, mini_program_code_regenerate, mini_program_code_request
from campaigns.exceptions import MiniProgramCodeInvalid, MiniProgramCodeTransitionNotAllowed
from campaigns.models import Campaign, MiniProgramCode
from campaigns.services import campaign_code_problem, campaign_create
from catalog.models import Product
from config.admin_thumbnails import list_thumbnail_html
from wechat.linked_mini_programs import article_mini_program
from wechat.merchants import mini_program_default
from wechat.miniprogram_codes import WIDTH_DEFAULT, WIDTH_MAX, WIDTH_MIN


def _take_fields(admin_object, saved) -> None:
    """The admin's unsaved object becomes the row a service saved: its message and history name what was made.

    The add forms skip _post_clean, so the admin's object has none of the form's values (the service saves them).
    """
    for field in saved._meta.concrete_fields:
        setattr(admin_object, field.attname, getattr(saved, field.attname))


# Pushes and articles get theirs automatically; staff start the others.
STAFF_CHANNELS = [
    (value, label)
    for value, label in Campaign.Channel.choices
    if value not in {Campaign.Channel.PUSH, Campaign.Channel.ARTICLE}
]


class CampaignAddForm(forms.ModelForm):
    channel = forms.ChoiceField(label=_("channel"), choices=STAFF_CHANNELS, initial=Campaign.Channel.POSTER)
    code = forms.CharField(
        label=_("code"), required=False, max_length=64, help_text=Campaign._meta.get_field("code").help_text
    )

    class Meta:
        model = Campaign
        fields = ["name", "channel", "code"]

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip()
        if code and (problem := campaign_code_problem(code)):
            raise forms.ValidationError(problem)
        if code and Campaign.objects.filter(code=code).exists():
            raise forms.ValidationError(_("Another campaign has this code."))
        return code

    def _post_clean(self):
        # campaign_create saves the campaign (and makes its code when none is given).
        pass


@admin.register(Campaign)
class CampaignAdmin(ModelAdmin):
    list_display = ["name", "channel", "code", "created_by", "created_at"]
    list_filter = ["channel"]
    list_select_related = ["created_by"]
    search_fields = ["name", "code"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = CampaignAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["name", "channel", "code"]
        return ["name", "channel", "code", "mini_program_codes", "created_by", "created_at"]

    def get_readonly_fields(self, request, obj=None):
        # A code is printed on posters and sent in articles: it never changes once given.
        return ["channel", "code", "mini_program_codes", "created_by", "created_at"] if obj else []

    @admin.display(description=_("Mini Program codes"))
    def mini_program_codes(self, campaign: Campaign) -> str:
        codes = reverse("admin:campaigns_miniprogramcode_changelist") + f"?campaign__id__exact={campaign.pk}"
        new = reverse("admin:campaigns_miniprogramcode_add") + f"?campaign={campaign.pk}"
        return format_html(
            '<a href="{}">{}</a> · <a href="{}">{}</a>',
            codes,
            _("%(count)d made") % {"count": campaign.mini_program_codes.count()},
            new,
            _("Make a Mini Program code with this campaign"),
        )

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        created = campaign_create(
            name=form.cleaned_data["name"],
            channel=form.cleaned_data["channel"],
            code=form.cleaned_data["code"],
            staff_user=request.user,
        )
        _take_fields(obj, created)


class MiniProgramCodeAddForm(forms.ModelForm):
    product = forms.ModelChoiceField(
        label=_("product"),
        queryset=Product.objects.filter(is_active=True).order_by("title"),
        required=False,
        help_text=_("The code opens this product's page. Leave empty to write a page below."),
    )
    width = forms.IntegerField(
        label=_("width (px)"),
        min_value=WIDTH_MIN,
        max_value=WIDTH_MAX,
        initial=WIDTH_DEFAULT,
        help_text=_("280 to 1280 px, as WeChat draws them."),
    )

    class Meta:
        model = MiniProgramCode
        fields = ["campaign", "mini_program", "product", "page", "env_version", "width"]
        help_texts = {
            "page": _("A page of the published Mini Program, e.g. pages/index/index (no leading “/”, no “?”)."),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["page"].required = False
        if not self.initial.get("mini_program"):
            linked = article_mini_program()
            self.initial["mini_program"] = (linked or mini_program_default()).pk

    def clean(self):
        cleaned = super().clean()
        if self.errors or not cleaned.get("campaign"):
            return cleaned
        try:
            mini_program_code_check(
                campaign=cleaned["campaign"],
                product=cleaned.get("product"),
                page=cleaned.get("page") or "",
                env_version=cleaned["env_version"],
                width=cleaned["width"],
            )
        except MiniProgramCodeInvalid as refusal:
            for field, field_messages in refusal.fields.items():
                for message in field_messages:
                    self.add_error(field, message)
        return cleaned

    def _post_clean(self):
        # mini_program_code_request saves the code with its page and scene; the check ran in clean().
        pass


@admin.register(MiniProgramCode)
class MiniProgramCodeAdmin(ModelAdmin):
    list_display = ["thumbnail", "campaign", "page", "scene", "env_version", "width", "status", "generated_at"]
    list_display_links = ["thumbnail", "campaign"]
    list_filter = ["status", "env_version", "campaign"]
    list_select_related = ["campaign"]
    search_fields = ["campaign__name", "campaign__code", "page", "scene"]
    actions = ["make_again"]
    readonly_fields = [
        "preview",
        "download",
        "campaign",
        "mini_program",
        "product",
        "page",
        "scene",
        "env_version",
        "width",
        "status",
        "error",
        "generated_at",
        "created_by",
        "created_at",
    ]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = MiniProgramCodeAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["campaign", "mini_program", "product", "page", "env_version", "width"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            return  # nothing is edited in place: staff ask for a new code, or for this one to be made again
        created = mini_program_code_request(
            campaign=form.cleaned_data["campaign"],
            mini_program=form.cleaned_data["mini_program"],
            product=form.cleaned_data.get("product"),
            page=form.cleaned_data.get("page") or "",
            env_version=form.cleaned_data["env_version"],
            width=form.cleaned_data["width"],
            staff_user=request.user,
        )
        _take_fields(obj, created)

    @admin.display(description=_("Code"))
    def thumbnail(self, code: MiniProgramCode) -> str:
        return list_thumbnail_html(media_name=code.image.name)

    @admin.display(description=_("Code"))
    def preview(self, code: MiniProgramCode) -> str:
        if not code.image:
            return (
                _("Being made by WeChat: reload this page in a moment.") if code.status == code.Status.QUEUED else "—"
            )
        return format_html('<img src="{}" width="280" height="280" alt="">', code.image.url)

    @admin.display(description=_("Download"))
    def download(self, code: MiniProgramCode) -> str:
        if not code.image:
            return "—"
        url = reverse("admin:campaigns_miniprogramcode_download", args=[code.pk])
        return format_html(
            '<a href="{}" download>{}</a>', url, _("Download PNG (%(width)d px)") % {"width": code.width}
        )

    @admin.action(description=_("Make the selected codes again at WeChat"), permissions=["add"])
    def make_again(self, request, queryset):
        asked = 0
        for code_id in queryset.values_list("pk", flat=True):
            try:
                mini_program_code_regenerate(code_id=code_id, staff_user=request.user)
            except MiniProgramCodeTransitionNotAllowed:
                continue  # still being made
            asked += 1
        self.message_user(
            request, _("%(count)d code(s) will be made again; reload in a moment.") % {"count": asked}, messages.SUCCESS
        )

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:code_id>/download/", wrap(self.download_view), name="campaigns_miniprogramcode_download"),
            *super().get_urls(),
        ]

    def download_view(self, request, code_id: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        code = get_object_or_404(MiniProgramCode, pk=code_id)
        if not code.image:
            raise Http404("This code has no image yet.")
        return FileResponse(
            code.image.open("rb"),
            as_attachment=True,
            filename=f"mini-program-code-{code.campaign_id}-{code.pk}-{code.width}px.png",
            content_type="image/png",
        )
