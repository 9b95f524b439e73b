"""Reconciliation in the admin: runs (read-only, their discrepancies inline), "reconcile a date", and resolving."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from config.admin_read_only import ReadOnlyAdmin, ReadOnlyInline
from config.money import format_fen
from orders.exceptions import DiscrepancyAlreadyResolved, ReconciliationAlreadyRunning
from orders.models import (
    Discrepancy,
    DiscrepancyEvent,
    DiscrepancyStatus,
    ReconciliationRun,
    ReconciliationRunEvent,
    ReconciliationTrigger,
)
from orders.services.reconciliation import beijing_today, reconciliation_run_queue
from orders.services.reconciliation_status import discrepancy_resolve
from orders.tasks import reconcile_payments

# WeChat keeps bills for three months (下载交易账单): older dates cannot be downloaded.
BILLS_KEPT_DAYS = 90


def _fen(amount: int | None) -> str:
    return "—" if amount is None else format_fen(amount)


class DiscrepancyInline(ReadOnlyInline):
    model = Discrepancy
    fk_name = "run"
    verbose_name_plural = _("discrepancies this run found first")
    show_change_link = True
    fields = ["kind", "out_trade_no", "out_refund_no", "wechat_amount", "local_amount", "detail", "status", "repaired"]
    readonly_fields = fields

    @admin.display(description=_("WeChat"))
    def wechat_amount(self, discrepancy: Discrepancy) -> str:
        return _fen(discrepancy.wechat_amount_fen)

    @admin.display(description=_("ours"))
    def local_amount(self, discrepancy: Discrepancy) -> str:
        return _fen(discrepancy.local_amount_fen)


class ReconciliationRunEventInline(ReadOnlyInline):
    """The run's timeline; events are appended by the reconciliation status service only."""

    model = ReconciliationRunEvent
    verbose_name_plural = _("timeline")
    fields = ["at", "from_status", "to_status", "actor", "reason"]
    readonly_fields = fields


class DiscrepancyEventInline(ReadOnlyInline):
    """The discrepancy's timeline; events are appended by the reconciliation status service only."""

    model = DiscrepancyEvent
    verbose_name_plural = _("timeline")
    fields = ["at", "from_status", "to_status", "actor", "staff_user", "reason"]
    readonly_fields = fields


class ReconcileDateForm(forms.Form):
    bill_date = forms.DateField(
        label=_("Date"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("A Beijing calendar day within the last three months; its bill is ready from 10:00 the next day."),
    )

    def clean_bill_date(self):
        bill_date = self.cleaned_data["bill_date"]
        today = beijing_today()
        # Today's bill is WeChat's to refuse (it is made the next morning; the sandbox's clock may be ahead).
        if bill_date > today:
            raise forms.ValidationError(_("This day has not happened yet: WeChat makes a day's bill the next morning."))
        if bill_date < today - timedelta(days=BILLS_KEPT_DAYS):
            raise forms.ValidationError(_("WeChat keeps bills for three months: this day's bill is gone."))
        return bill_date


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    change_list_template = "admin/orders/reconciliationrun/change_list.html"
    list_display = [
        "bill_date",
        "status",
        "triggered_by",
        "started_at",
        "payment_rows",
        "refund_rows",
        "matched_count",
        "discrepancy_count",
        "repaired_count",
        "totals_agree",
    ]
    list_filter = ["status", "triggered_by", "bill_date"]
    date_hierarchy = "bill_date"
    inlines = [DiscrepancyInline, ReconciliationRunEventInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "bill_date",
                    "mch_id",
                    "api_version",
                    "status",
                    "triggered_by",
                    "staff_user",
                    "started_at",
                    "finished_at",
                ]
            },
        ),
        (
            _("Bill"),
            {
                "fields": [
                    "bill_found",
                    "bill_columns",
                    "payment_rows",
                    "refund_rows",
                    "matched_count",
                    "discrepancy_count",
                    "discrepancies_seen",
                    "repaired_count",
                ]
            },
        ),
        (
            _("Totals: WeChat's summary row / the rows' sums"),
            {"fields": ["trade_count", "settled", "refunded", "ordered"]},
        ),
        (_("Failure"), {"fields": ["error_message", "error_transient"]}),
    ]
    readonly_fields = [field for fieldset in fieldsets for field in fieldset[1]["fields"]]

    @admin.display(description=_("totals agree"), boolean=True)
    def totals_agree(self, run: ReconciliationRun) -> bool | None:
        if run.summary_trade_count is None:
            return None
        return (
            run.summary_trade_count == run.payment_rows + run.refund_rows
            and run.summary_settlement_fen == run.rows_settlement_fen
            and run.summary_refund_fen == run.rows_refund_fen
            and run.summary_order_fen in (None, run.rows_order_fen)
        )

    @admin.display(description=_("discrepancies this run saw"))
    def discrepancies_seen(self, run: ReconciliationRun) -> str:
        url = reverse("admin:orders_discrepancy_changelist") + f"?last_seen_run__id__exact={run.pk}"
        return format_html(_('<a href="{}">{} (new or still open)</a>'), url, run.discrepancy_count)

    @admin.display(description=_("trades"))
    def trade_count(self, run: ReconciliationRun) -> str:
        if run.summary_trade_count is None:
            return "—"
        return f"{run.summary_trade_count} / {run.payment_rows + run.refund_rows}"

    @admin.display(description=_("settled"))
    def settled(self, run: ReconciliationRun) -> str:
        return f"{_fen(run.summary_settlement_fen)} / {_fen(run.rows_settlement_fen)}"

    @admin.display(description=_("refunded"))
    def refunded(self, run: ReconciliationRun) -> str:
        return f"{_fen(run.summary_refund_fen)} / {_fen(run.rows_refund_fen)}"

    @admin.display(description=_("ordered"))
    def ordered(self, run: ReconciliationRun) -> str:
        return f"{_fen(run.summary_order_fen)} / {_fen(run.rows_order_fen)}"

    def has_start_permission(self, request) -> bool:
        return request.user.has_perm("orders.start_reconciliationrun")

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "can_reconcile": self.has_start_permission(request)}
        return super().changelist_view(request, extra_context)

    def get_urls(self):
        reconcile = path(
            "reconcile/", self.admin_site.admin_view(self.reconcile_view), name="orders_reconciliationrun_reconcile"
        )
        return [reconcile, *super().get_urls()]

    def reconcile_view(self, request):
        """Reconcile a date: queued on the reconciliation queue, as a long bill outlasts a web request."""
        if not self.has_start_permission(request):
            raise PermissionDenied
        # Yesterday in Beijing: the bill the morning's run reconciles, and the one staff check most.
        form = ReconcileDateForm(request.POST or None, initial={"bill_date": beijing_today() - timedelta(days=1)})
        if request.method == "POST" and form.is_valid():
            bill_date = form.cleaned_data["bill_date"]
            try:
                # The run row first, so the list shows it (running) at once; the task carries it out.
                run = reconciliation_run_queue(
                    bill_date=bill_date, triggered_by=ReconciliationTrigger.ADMIN, staff_user=request.user
                )
            except ReconciliationAlreadyRunning:
                form.add_error("bill_date", _("This date is being reconciled now: its run is in the list."))
            else:
                reconcile_payments.delay_on_commit(
                    bill_date=bill_date.isoformat(),
                    triggered_by=ReconciliationTrigger.ADMIN,
                    staff_user_id=request.user.pk,
                    run_id=run.pk,
                )
                messages.success(
                    request,
                    _("Reconciliation of %(date)s has started; its run is at the top of the list.")
                    % {"date": bill_date.isoformat()},
                )
                return redirect("admin:orders_reconciliationrun_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reconcile a date"),
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, "admin/orders/reconciliationrun/reconcile.html", context)


class ResolveForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text=_("How it was settled (e.g. refunded the customer, WeChat corrected the bill)."),
        label=_("Note"),
    )


@admin.register(Discrepancy)
class DiscrepancyAdmin(ReadOnlyAdmin):
    list_display = [
        "bill_date",
        "kind",
        "out_trade_no",
        "out_refund_no",
        "wechat_amount",
        "local_amount",
        "status",
        "repaired",
        "last_seen_run",
    ]
    list_filter = ["status", "kind", "repaired", "bill_date"]
    list_select_related = ["last_seen_run"]
    search_fields = ["out_trade_no__exact", "out_refund_no__exact", "transaction_id__exact"]
    search_help_text = _("Order, refund or WeChat transaction number (exact).")
    actions = ["resolve"]
    inlines = [DiscrepancyEventInline]
    fieldsets = [
        (None, {"fields": ["bill_date", "kind", "detail", "status"]}),
        (
            _("Trade"),
            {
                "fields": [
                    "out_trade_no",
                    "out_refund_no",
                    "transaction_id",
                    "bill_line",
                    "wechat_amount",
                    "local_amount",
                    "wechat_status",
                    "local_status",
                ]
            },
        ),
        (_("Found by"), {"fields": ["run", "last_seen_run", "created_at"]}),
        (_("Settled"), {"fields": ["repaired", "repair_note", "resolved_by", "resolved_at", "resolution_note"]}),
    ]
    readonly_fields = [field for fieldset in fieldsets for field in fieldset[1]["fields"]]

    @admin.display(description=_("WeChat"), ordering="wechat_amount_fen")
    def wechat_amount(self, discrepancy: Discrepancy) -> str:
        return _fen(discrepancy.wechat_amount_fen)

    @admin.display(description=_("ours"), ordering="local_amount_fen")
    def local_amount(self, discrepancy: Discrepancy) -> str:
        return _fen(discrepancy.local_amount_fen)

    def has_resolve_permission(self, request) -> bool:
        return request.user.has_perm("orders.resolve_discrepancy")

    @admin.action(description=_("Resolve the selected discrepancies with a note"), permissions=["resolve"])
    def resolve(self, request, queryset):
        form = ResolveForm(request.POST if "note" in request.POST else None)
        if form.is_valid():
            resolved = 0
            for discrepancy_id in queryset.filter(status=DiscrepancyStatus.OPEN).values_list("pk", flat=True):
                try:
                    discrepancy_resolve(
                        discrepancy_id=discrepancy_id, staff_user=request.user, note=form.cleaned_data["note"]
                    )
                except DiscrepancyAlreadyResolved:
                    continue  # resolved by someone else meanwhile
                resolved += 1
            skipped = queryset.count() - resolved
            messages.success(request, _("%(resolved)s discrepancies resolved.") % {"resolved": resolved})
            if skipped:
                messages.warning(
                    request, _("%(skipped)s were resolved already and stay as they were.") % {"skipped": skipped}
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Resolve discrepancies"),
            "opts": self.opts,
            "form": form,
            "discrepancies": queryset,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/orders/discrepancy/resolve.html", context)
