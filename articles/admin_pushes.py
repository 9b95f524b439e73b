"""Pushes in the admin: build a draft of 1–8 ordered articles, schedule it within quota, cancel or retry it.

Every write goes through articles/services/pushes.py; the forms run the same checks first so a
refusal (a missing tag, a bad openid) shows beside the field it concerns. A full quota window never
costs the draft: “Save and schedule” saves it, then names the refusal at the top of its page.
"""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import construct_change_message
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.dates import WEEKDAYS_ABBR
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from unfold.admin import ModelAdmin, TabularInline

from articles.admin_preview import PushPreviewMixin
from articles.exceptions import PushInvalid, PushNotSchedulable
from articles.models import (
    MAX_ARTICLES_PER_PUSH,
    FollowerTag,
    Push,
    PushArticle,
    PushBatch,
    PushEvent,
    PushMode,
    PushStatus,
)
from articles.quota_windows import BEIJING, beijing_time_label
from articles.selectors import (
    QuotaWindowUsage,
    push_calendar_weeks,
    pushes_with_batch_totals,
    quota_windows_for_accounts,
)
from articles.services.pushes import (
    push_articles_check,
    push_audience_check,
    push_cancel,
    push_create,
    push_schedule,
    push_send_time,
    push_update,
)
from articles.services.receipts import followers_at_monthly_limit
from articles.services.sending import article_content_as_sent_problem
from config.admin_read_only import ReadOnlyInline
from config.errors import ApplicationError
from wechat.admin import OfficialAccountAdmin
from wechat.models import OfficialAccount

SCHEDULE_BUTTON = "_schedule"
# Service errors name model fields; the form shows the tag as a dropdown of FollowerTags.
FORM_FIELD_FOR = {"audience_tag_id": "audience_tag"}


def _add_service_errors(form: forms.BaseForm, error: ApplicationError, *, fallback: str | None = None) -> None:
    """Show a service's refusal on the form: each message beside its field, the rest at the top."""
    if not error.fields:
        form.add_error(fallback, error.message)
        return
    for name, field_messages in error.fields.items():
        field = FORM_FIELD_FOR.get(name, name)
        for message in field_messages:
            form.add_error(field if field in form.fields else fallback, message)


def _tag_choices() -> list:
    """Synced tags grouped by account: the value is our row's id, as tag ids repeat across accounts."""
    groups: dict[str, list] = defaultdict(list)
    for tag in FollowerTag.objects.select_related("account").order_by("account__name", "name"):
        groups[tag.account.name].append((tag.pk, f"{tag.name} ({tag.follower_count:,} followers)"))
    return [("", "---------"), *groups.items()]


def quota_summary(window: QuotaWindowUsage) -> str:
    """“2 of 4 left (November 2026)”, or why there are none; a service account's are its sends to all followers."""
    if window.spent_at_wechat:
        summary = _("none left (%(label)s: WeChat reported the quota spent)") % {"label": window.label}
    else:
        summary = _("%(remaining)s of %(limit)s left (%(label)s)") % {
            "remaining": window.remaining,
            "limit": window.limit,
            "label": window.label,
        }
    if window.account_type == OfficialAccount.AccountType.SERVICE:
        # 群发接口和原创校验 (前言): only is_to_all sends (and console sends) count for a service account.
        summary += str(_(", sends to all followers; sends to a tag or a list are not counted"))
    return summary


def push_warnings(push: Push) -> list[str]:
    """What staff should know before scheduling a draft: followers WeChat will skip, content too long as sent."""
    warnings = []
    if push.mode == PushMode.MASS_SEND:
        at = push.scheduled_at or timezone.now()
        if full := followers_at_monthly_limit(push=push, at=at):
            warnings.append(
                _(
                    "%(count)s of this push's recipients have already received 4 mass sends in %(month)s "
                    "(by our records, console sends included): WeChat will not deliver this push to them."
                )
                % {"count": f"{full:,}", "month": f"{at.astimezone(BEIJING):%B %Y}"}
            )
    for item in push.push_articles.select_related("article").order_by("position"):
        if problem := article_content_as_sent_problem(item.article):
            warnings.append(problem)
    return warnings


# --- the draft form and its articles -------------------------------------------------------------


class PushAdminForm(forms.ModelForm):
    audience_tag = forms.TypedChoiceField(
        label=_("Tag"),
        coerce=int,
        empty_value=None,
        required=False,
        help_text=_("Tags synced from WeChat, by account (Followers by account › Sync to refresh them)."),
    )
    send_now = forms.BooleanField(
        label=_("Send now"),
        required=False,
        help_text=_("With “Save and schedule”: goes out within a minute, instead of at the time above."),
    )
    # Set per request by PushAdmin.get_form: the staff pressed “Save and schedule”.
    scheduling = False

    class Meta:
        model = Push
        fields = ["account", "title", "mode", "audience", "audience_tag", "audience_openids", "scheduled_at"]
        labels = {"scheduled_at": _("Schedule for (Beijing time)"), "audience_openids": _("Openids")}
        help_texts = {
            "audience_openids": _(
                "One openid a line, at least 2 (WeChat's minimum for a mass send); "
                "repeats are dropped. To check the push on your own phone, use “Preview on my WeChat”."
            ),
            "scheduled_at": _("Beijing time. Used when you press “Save and schedule”."),
        }
        widgets = {"audience_openids": forms.Textarea(attrs={"rows": 6, "cols": 40, "spellcheck": "false"})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["audience_tag"].choices = _tag_choices()
        push = self.instance
        if push.pk and push.audience_tag_id is not None:
            tag = FollowerTag.objects.filter(account_id=push.account_id, tag_id=push.audience_tag_id).first()
            self.initial["audience_tag"] = tag.pk if tag else None

    def clean(self):
        cleaned = super().clean()
        account = cleaned.get("account")
        if account is None or not cleaned.get("mode") or not cleaned.get("audience"):
            return cleaned
        tag_id = None
        if tag_pk := cleaned.get("audience_tag"):
            tag = FollowerTag.objects.filter(pk=tag_pk).select_related("account").first()
            if tag is None or tag.account_id != account.pk:
                owner = f"{tag.account.name}'s" if tag else "a deleted"
                self.add_error(
                    "audience_tag",
                    _("That is %(owner)s tag; pick one of %(name)s's tags.") % {"owner": owner, "name": account.name},
                )
                return cleaned
            tag_id = tag.tag_id
        try:
            checked = push_audience_check(
                account=account,
                mode=cleaned["mode"],
                audience=cleaned["audience"],
                audience_tag_id=tag_id,
                audience_openids=cleaned.get("audience_openids", ""),
            )
        except PushInvalid as refusal:
            _add_service_errors(self, refusal)
            return cleaned
        cleaned["audience_tag_id"] = checked.tag_id
        cleaned["repeats_dropped"] = checked.repeats_dropped
        if self.scheduling:
            self._check_schedulable(cleaned)
        return cleaned

    def _check_schedulable(self, cleaned: dict) -> None:
        """The time staff typed, ahead of push_schedule.

        The quota is not checked here: “Save and schedule” saves the draft first, so a full window
        must not throw the draft away. push_schedule checks it under the account's lock after the
        save, and its refusal is shown on the saved draft's page (PushAdmin._schedule_saved).
        """
        if cleaned.get("send_now"):
            return
        at = cleaned.get("scheduled_at")
        if at is None:
            self.add_error("scheduled_at", _("Pick a time, or tick “Send now”."))
            return
        try:
            push_send_time(at=at, now=timezone.now())
        except ApplicationError as refusal:
            _add_service_errors(self, refusal, fallback="scheduled_at")


class PushArticleForm(forms.ModelForm):
    position = forms.IntegerField(
        min_value=1,
        max_value=MAX_ARTICLES_PER_PUSH,
        required=False,
        help_text=_("1 is the headline; empty rows go after the numbered ones."),
        label=_("Position"),
    )

    class Meta:
        model = PushArticle
        fields = ["article"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial.setdefault("position", self.instance.position)

    def validate_unique(self):
        # Positions and repeats are the formset's to judge: checking each row against the
        # stored ones would refuse swapping two articles' places.
        pass


class PushArticleFormSet(BaseInlineFormSet):
    def validate_unique(self):
        pass  # see PushArticleForm.validate_unique; clean() checks the whole list

    def clean(self):
        super().clean()
        rows = []
        for index, form in enumerate(self.forms):
            if not hasattr(form, "cleaned_data") or self._should_delete_form(form):
                continue
            article = form.cleaned_data.get("article")
            if article is None:
                continue
            position = form.cleaned_data.get("position")
            rows.append((position or MAX_ARTICLES_PER_PUSH + 1, index, article.pk, position))
        taken = [position for *_, position in rows if position]
        if repeated := sorted({position for position in taken if taken.count(position) > 1}):
            raise forms.ValidationError(_("Two articles cannot share position %(value)s.") % {"value": repeated[0]})
        self.ordered_article_ids = [article_id for _, _, article_id, _ in sorted(rows)]
        try:
            push_articles_check(article_ids=self.ordered_article_ids)
        except PushInvalid as refusal:
            raise forms.ValidationError(refusal.fields.get("articles") or [refusal.message]) from refusal


class PushEditableInline(TabularInline):
    """Editable while the push is a draft, for whoever may change pushes: it has no permissions of its own."""

    hide_title = True  # no "1. 4" above each row: the row shows its position and article

    def _push_editable(self, request, obj) -> bool:
        if obj is None:  # the add page
            return request.user.has_perm("articles.add_push")
        return obj.status == PushStatus.DRAFT and request.user.has_perm("articles.change_push")

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("articles.view_push") or request.user.has_perm("articles.change_push")

    def has_add_permission(self, request, obj=None):
        return self._push_editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._push_editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._push_editable(request, obj)


class PushArticleInline(PushEditableInline):
    model = PushArticle
    form = PushArticleForm
    formset = PushArticleFormSet
    fields = ["position", "article", "article_link"]
    readonly_fields = ["article_link"]
    extra = 1
    max_num = MAX_ARTICLES_PER_PUSH
    verbose_name = _("article")
    verbose_name_plural = format_lazy(_("articles (1 to {limit}, in order)"), limit=MAX_ARTICLES_PER_PUSH)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("article").order_by("position")

    @admin.display(description=_("article URL at WeChat"))
    def article_link(self, item: PushArticle):
        if not item.article_url:
            return "—"
        return format_html('<a href="{0}" rel="noreferrer" target="_blank">{0}</a>', item.article_url)


class PushReadOnlyInline(ReadOnlyInline):
    """Seen by whoever may see the push: the rows have no permissions of their own."""

    def has_view_permission(self, request, obj=None):
        return request.user.has_perm("articles.view_push") or request.user.has_perm("articles.change_push")


class PushBatchInline(PushReadOnlyInline):
    """Each mass-send call and what MASSSENDJOBFINISH reported for it."""

    model = PushBatch
    verbose_name_plural = _("send batches and their results")
    fields = [
        "number",
        "clientmsgid",
        "msg_id",
        "accepted_at",
        "job_status",
        "job_status_reason",
        "total_count",
        "filter_count",
        "sent_count",
        "error_count",
        "finished_at",
    ]
    readonly_fields = fields


class PushEventInline(PushReadOnlyInline):
    """The push's history, appended by the status service only."""

    model = PushEvent
    verbose_name_plural = _("history")
    fields = ["at", "from_status", "to_status", "actor", "staff_user", "reason"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("staff_user")


# --- scheduling pages ----------------------------------------------------------------------------


class ScheduleForm(forms.Form):
    send_now = forms.BooleanField(label=_("Send now"), required=False, help_text=_("Goes out within a minute."))
    scheduled_at = forms.SplitDateTimeField(
        label=_("Or schedule for (Beijing time)"), required=False, widget=AdminSplitDateTime
    )

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("send_now") and not cleaned.get("scheduled_at") and not self.errors:
            self.add_error("scheduled_at", _("Pick a time, or tick “Send now”."))
        return cleaned


def _month_of(value: str | None) -> date:
    try:
        return datetime.strptime(value or "", "%Y-%m").date()
    except ValueError:
        return timezone.now().astimezone(BEIJING).date().replace(day=1)


class PushAdmin(PushPreviewMixin, ModelAdmin):
    form = PushAdminForm
    list_display = ["title", "account", "mode", "audience", "status", "scheduled_for", "sent_counts"]
    list_filter = ["status", "mode", "account"]
    list_select_related = ["account"]
    search_fields = ["title"]
    date_hierarchy = "scheduled_at"
    actions = ["cancel_selected", "preview_on_wechat"]
    inlines = [PushArticleInline, PushBatchInline, PushEventInline]
    change_list_template = "admin/articles/push/change_list.html"
    change_form_template = "admin/articles/push/change_form.html"
    status_fields = ["status", "failure_reason", "scheduled_for", "sent_at", "created_by", "created_at"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = [
            (None, {"fields": ["account", "title", "mode"]}),
            (_("Audience"), {"fields": ["audience", "audience_tag", "audience_openids"]}),
            (_("When"), {"fields": ["scheduled_at", "send_now"]}),
        ]
        if obj is not None and obj.status != PushStatus.DRAFT:
            fieldsets = [
                (None, {"fields": ["account", "title", "mode"]}),
                (_("Audience"), {"fields": ["audience", "audience_tag_name", "openid_count"]}),
                (_("Status"), {"fields": self.status_fields}),
            ]
        elif obj is not None:
            fieldsets.append((_("Status"), {"fields": self.status_fields}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != PushStatus.DRAFT:
            return ["account", "title", "mode", "audience", "audience_tag_name", "openid_count", *self.status_fields]
        return self.status_fields

    def get_inlines(self, request, obj):
        if obj is None:
            return [PushArticleInline]
        return self.inlines

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and obj.status != PushStatus.DRAFT:
            return super().get_form(request, obj, change=change, **kwargs)
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"scheduling": SCHEDULE_BUTTON in request.POST})

    def get_queryset(self, request):
        return pushes_with_batch_totals(pushes=super().get_queryset(request))

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Deleting would erase a sent push's history; drafts are deleted one at a time.
        actions.pop("delete_selected", None)
        return actions

    def has_change_permission(self, request, obj=None):
        # Only drafts change; a scheduled push is cancelled, a failed one retried.
        return super().has_change_permission(request, obj) and (obj is None or obj.status == PushStatus.DRAFT)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and (obj is None or obj.status == PushStatus.DRAFT)

    def has_send_permission(self, request) -> bool:
        return request.user.has_perm("articles.send_push")

    # --- columns and read-only fields

    @admin.display(description=_("scheduled for"), ordering="scheduled_at")
    def scheduled_for(self, push: Push) -> str:
        return f"{beijing_time_label(push.scheduled_at)}" if push.scheduled_at else "—"

    @admin.display(description=_("sent"))
    def sent_counts(self, push: Push) -> str:
        if push.total_reached is None:
            return "—"
        return _("%(value)s of %(total_reached)s") % {
            "value": format(push.total_sent or 0, ","),
            "total_reached": format(push.total_reached, ","),
        }

    @admin.display(description=_("tag"))
    def audience_tag_name(self, push: Push) -> str:
        if push.audience_tag_id is None:
            return "—"
        tag = FollowerTag.objects.filter(account_id=push.account_id, tag_id=push.audience_tag_id).first()
        return (
            _("%(name)s (tag %(audience_tag_id)s)") % {"name": tag.name, "audience_tag_id": push.audience_tag_id}
            if tag
            else _("tag %(audience_tag_id)s (no longer synced)") % {"audience_tag_id": push.audience_tag_id}
        )

    @admin.display(description=_("openids"))
    def openid_count(self, push: Push) -> str:
        count = len(push.audience_openids.splitlines())
        return _("%(count)s openids") % {"count": format(count, ",")} if count else "—"

    # --- saving through the services

    def save_model(self, request, obj, form, change):
        """Nothing yet: the push and its articles are written together in save_related."""

    def save_related(self, request, form, formsets, change):
        article_ids = next(
            formset.ordered_article_ids for formset in formsets if isinstance(formset, PushArticleFormSet)
        )
        cleaned = form.cleaned_data
        fields = {
            "account": cleaned["account"],
            "title": cleaned["title"],
            "mode": cleaned["mode"],
            "audience": cleaned["audience"],
            "article_ids": article_ids,
            "audience_tag_id": cleaned.get("audience_tag_id"),
            "audience_openids": cleaned.get("audience_openids", ""),
            "scheduled_at": cleaned.get("scheduled_at"),
        }
        if change:
            push = push_update(push_id=form.instance.pk, **fields)
        else:
            push = push_create(**fields, staff_user=request.user)
            # The admin logs and redirects with the object it built; give it the saved row's identity.
            form.instance.pk = push.pk
            form.instance._state.adding = False
        if repeats := cleaned.get("repeats_dropped"):
            self.message_user(
                request,
                _("%(repeats)s repeated openid(s) were dropped.") % {"repeats": format(repeats, ",")},
                messages.INFO,
            )
        # Said as soon as the draft is saved, wherever the admin goes next.
        for warning in push_warnings(push):
            self.message_user(request, warning, messages.WARNING)
        if form.scheduling:
            self._schedule_saved(request, push, cleaned)

    def _schedule_saved(self, request, push: Push, cleaned: dict) -> None:
        if not self.has_send_permission(request):
            self.message_user(request, _("Saved as a draft: you may not schedule pushes."), messages.WARNING)
            return
        at = None if cleaned.get("send_now") else cleaned.get("scheduled_at")
        try:
            push_schedule(push_id=push.pk, at=at, staff_user=request.user)
        except ApplicationError as refusal:
            # The draft stays saved; the quota (or a slot taken since) is named at the top of its page.
            self.message_user(
                request,
                _("Saved as a draft, not scheduled: %(reason)s") % {"reason": refusal.message},
                messages.ERROR,
            )
        else:
            push.refresh_from_db()
            self.message_user(
                request,
                _("“%(push)s” is scheduled for %(scheduled_for)s (Beijing time).")
                % {"push": push, "scheduled_for": self.scheduled_for(push)},
            )

    def response_add(self, request, obj, post_url_continue=None):
        if SCHEDULE_BUTTON in request.POST:
            return redirect(reverse("admin:articles_push_change", args=[obj.pk]))
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        if SCHEDULE_BUTTON in request.POST:
            return redirect(reverse("admin:articles_push_change", args=[obj.pk]))
        return super().response_change(request, obj)

    def construct_change_message(self, request, form, formsets, add=False):
        # The inline rows are written by the service, not the formsets, so only the form is described.
        return construct_change_message(form, [], add)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as refusal:
            # The form's checks passed but the service refused (a tag deleted, the push sent meanwhile).
            self.message_user(request, _("Not saved: %(message)s") % {"message": refusal.message}, messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        editable = obj is None or obj.status == PushStatus.DRAFT
        context.update(
            {
                "push_warnings": push_warnings(obj) if obj is not None and obj.status == PushStatus.DRAFT else [],
                "can_schedule": self.has_send_permission(request) and editable,
                "schedule_url": reverse("admin:articles_push_schedule", args=[obj.pk]) if obj else None,
                "cancel_url": reverse("admin:articles_push_cancel", args=[obj.pk]) if obj else None,
                "can_send": self.has_send_permission(request),
                "calendar_url": reverse("admin:articles_push_calendar"),
            }
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    # --- the changelist: quota per account

    def changelist_view(self, request, extra_context=None):
        accounts = list(OfficialAccount.objects.order_by("name"))
        windows = quota_windows_for_accounts(accounts=accounts, at=timezone.now())
        quota_rows = [
            {
                "account": account,
                "this_window": quota_summary(windows[account.pk][0]),
                "next_window": quota_summary(windows[account.pk][1]),
                "calendar_url": f"{reverse('admin:articles_push_calendar')}?account={account.pk}",
            }
            for account in accounts
        ]
        return super().changelist_view(
            request,
            {
                "quota_rows": quota_rows,
                "calendar_url": reverse("admin:articles_push_calendar"),
                **(extra_context or {}),
            },
        )

    @admin.action(description=_("Cancel selected scheduled pushes"), permissions=["send"])
    def cancel_selected(self, request, queryset):
        cancelled, refused = 0, []
        for push in queryset.only("pk", "title"):
            try:
                push_cancel(push_id=push.pk, staff_user=request.user)
                cancelled += 1
            except ApplicationError as refusal:
                refused.append(f"“{push.title}”: {refusal.message}")
        if cancelled:
            self.message_user(
                request, _("Cancelled %(cancelled)s push(es).") % {"cancelled": cancelled}, messages.SUCCESS
            )
        for message in refused:
            self.message_user(request, message, messages.WARNING)

    # --- extra pages: schedule / retry, cancel, calendar

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("calendar/", wrap(self.calendar_view), name="articles_push_calendar"),
            path("<int:push_id>/schedule/", wrap(self.schedule_view), name="articles_push_schedule"),
            path("<int:push_id>/cancel/", wrap(require_POST(self.cancel_view)), name="articles_push_cancel"),
            *super().get_urls(),
        ]

    def schedule_view(self, request, push_id: int):
        """Schedule a draft or retry a failed push: now, or at a Beijing time within the quota."""
        if not self.has_send_permission(request):
            raise PermissionDenied
        push = get_object_or_404(Push.objects.select_related("account"), pk=push_id)
        form = ScheduleForm(request.POST or None, initial={"scheduled_at": push.scheduled_at})
        if request.method == "POST" and form.is_valid():
            at = None if form.cleaned_data["send_now"] else form.cleaned_data["scheduled_at"]
            try:
                push_schedule(push_id=push.pk, at=at, staff_user=request.user)
            except PushNotSchedulable as refusal:
                form.add_error(None, refusal.message)
            except ApplicationError as refusal:
                if at is None:  # “Send now”: the date fields are empty and not what was refused
                    form.add_error(None, refusal.message)
                else:
                    _add_service_errors(form, refusal)
            else:
                push.refresh_from_db()
                self.message_user(
                    request,
                    _("“%(push)s” is scheduled for %(scheduled_for)s (Beijing time).")
                    % {"push": push, "scheduled_for": self.scheduled_for(push)},
                    messages.SUCCESS,
                )
                return redirect(reverse("admin:articles_push_change", args=[push.pk]))
        windows = quota_windows_for_accounts(accounts=[push.account], at=timezone.now())[push.account.pk]
        context = {
            **self.admin_site.each_context(request),
            "title": f"{'Retry' if push.status == PushStatus.FAILED else 'Schedule'} “{push}”",
            "opts": self.opts,
            "push": push,
            "form": form,
            "media": self.media + form.media,
            "quota_this_window": quota_summary(windows[0]) if push.mode == PushMode.MASS_SEND else None,
            "quota_next_window": quota_summary(windows[1]) if push.mode == PushMode.MASS_SEND else None,
            "push_warnings": push_warnings(push),
        }
        return TemplateResponse(request, "admin/articles/push/schedule.html", context)

    def cancel_view(self, request, push_id: int):
        if not self.has_send_permission(request):
            raise PermissionDenied
        push = get_object_or_404(Push, pk=push_id)
        try:
            push_cancel(push_id=push.pk, staff_user=request.user)
        except ApplicationError as refusal:
            self.message_user(request, refusal.message, messages.ERROR)
        else:
            self.message_user(request, _("“%(push)s” is cancelled.") % {"push": push}, messages.SUCCESS)
        return redirect(reverse("admin:articles_push_change", args=[push.pk]))

    def calendar_view(self, request):
        """A month of one account's scheduled and sent pushes, in Beijing days, with the quota beside it."""
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        accounts = list(OfficialAccount.objects.order_by("name"))
        account = next(
            (a for a in accounts if str(a.pk) == request.GET.get("account")), accounts[0] if accounts else None
        )
        month = _month_of(request.GET.get("month"))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Push calendar, %(month)s (Beijing time)") % {"month": date_format(month, "YEAR_MONTH_FORMAT")},
            "opts": self.opts,
            "accounts": accounts,
            "account": account,
            "month": month,
            "previous_month": (month - timedelta(days=1)).replace(day=1),
            "next_month": (month + timedelta(days=32)).replace(day=1),
            "weeks": push_calendar_weeks(account=account, month=month) if account else [],
            "weekdays": [WEEKDAYS_ABBR[day] for day in range(7)],  # Django's, in the staff's language
        }
        if account is not None:
            now = timezone.now()
            at = max(now, datetime.combine(month, time(), BEIJING))
            windows = quota_windows_for_accounts(accounts=[account], at=at)[account.pk]
            context["quota_windows"] = [quota_summary(window) for window in windows]
        return TemplateResponse(request, "admin/articles/push/calendar.html", context)


admin.site.register(Push, PushAdmin)


# wechat/ owns the account admin and knows nothing of pushes; this adds the quota to it from here.
admin.site.unregister(OfficialAccount)


@admin.register(OfficialAccount)
class OfficialAccountWithQuotaAdmin(OfficialAccountAdmin):
    list_display = [*OfficialAccountAdmin.list_display, "mass_sends_this_window", "mass_sends_next_window"]
    readonly_fields = [*OfficialAccountAdmin.readonly_fields, "mass_send_quota"]

    @staticmethod
    def _windows(account: OfficialAccount) -> list[QuotaWindowUsage]:
        # Both columns of a row ask; the row object lives for one request, so it can remember.
        if not hasattr(account, "_quota_windows"):
            account._quota_windows = quota_windows_for_accounts(accounts=[account], at=timezone.now())[account.pk]
        return account._quota_windows

    @admin.display(description=_("mass sends this window"))
    def mass_sends_this_window(self, account: OfficialAccount) -> str:
        return quota_summary(self._windows(account)[0])

    @admin.display(description=_("mass sends next window"))
    def mass_sends_next_window(self, account: OfficialAccount) -> str:
        return quota_summary(self._windows(account)[1])

    @admin.display(description=_("mass sends left (Beijing time)"))
    def mass_send_quota(self, account: OfficialAccount) -> str:
        if not account.pk:
            return _("shown once the account is saved")
        this_window, next_window = self._windows(account)
        return format_html(
            _('{}; then {}. <a href="{}?account={}">Push calendar</a>'),
            quota_summary(this_window),
            quota_summary(next_window),
            reverse("admin:articles_push_calendar"),
            account.pk,
        )
