"""The revenue report (/admin/revenue/): orders/revenue.py's figures over a Beijing date range, as a chart and a table.

Thin: the form reads the range and the grouping, the selector sums, this shapes the rows for the
template. The table's markup is a contract a browser test reads (docs/architecture.md, "Revenue by source").
"""

import json
from datetime import date, timedelta
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator, MinValueValidator
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from config.money import format_fen, yuan_from_fen
from orders.revenue import BEIJING, RevenueGrouping, RevenueReport, RevenueRow, revenue_by_source
from staff_home.dashboard import bar_chart_options

REVENUE_PERMISSION = "campaigns.view_revenue_campaign"
DEFAULT_DAYS = 30
# No shop's orders lie outside these: WeChat Pay began in 2013.
EARLIEST_DAY, LATEST_DAY = date(2000, 1, 1), date(2099, 12, 31)
# A bar per source is readable up to about this many; the table lists them all.
CHART_SOURCES = 20
FIGURES = ["readers", "visitors", "orders", "buyers", "revenue_fen", "conversion"]
CHART_COLOUR = "#07c160"


def beijing_today() -> date:
    return timezone.now().astimezone(BEIJING).date()


class RevenueReportForm(forms.Form):
    """?from=YYYY-MM-DD&to=YYYY-MM-DD&by=push|article|campaign|scene; without dates, the last 30 Beijing days."""

    by = forms.ChoiceField(label=_("Group"), choices=RevenueGrouping.choices, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # "from" is a Python keyword, so these two fields are added here rather than declared.
        for name, label in (("from", _("From (Beijing date)")), ("to", _("To (Beijing date)"))):
            self.fields[name] = forms.DateField(
                label=label,
                required=False,
                input_formats=["%Y-%m-%d"],
                widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
                error_messages={"invalid": _("Enter a date as YYYY-MM-DD.")},
                # Beyond these a day's bounds in Beijing time fall outside what dates can hold (year 1, 9999).
                validators=[
                    MinValueValidator(EARLIEST_DAY, _("Choose a date from %(limit_value)s on.")),
                    MaxValueValidator(LATEST_DAY, _("Choose a date up to %(limit_value)s.")),
                ],
            )
        self.order_fields(["from", "to", "by"])

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        first, last = cleaned.get("from"), cleaned.get("to")
        if last is None:
            last = beijing_today() if first is None else max(first, beijing_today())
        if first is None:
            first = last - timedelta(days=DEFAULT_DAYS - 1)
        if first > last:
            raise forms.ValidationError(_("“From” must be on or before “To”."), code="range")
        cleaned["from"], cleaned["to"] = first, last
        cleaned["by"] = cleaned.get("by") or RevenueGrouping.CAMPAIGN
        return cleaned


def _conversion_value(conversion: Decimal | None) -> str:
    # A plain decimal fraction for the markup: 0.25, 1, 0 (never 2.5E-1).
    return "" if conversion is None else format(conversion.normalize(), "f")


def _cells(row: RevenueRow) -> list[dict]:
    conversion = row.conversion
    values = {
        "readers": (row.readers, "–" if row.readers is None else f"{row.readers:,}"),
        "visitors": (row.visitors, "–" if row.visitors is None else f"{row.visitors:,}"),
        "orders": (row.orders, f"{row.orders:,}"),
        "buyers": (row.buyers, f"{row.buyers:,}"),
        "revenue_fen": (row.revenue_fen, format_fen(row.revenue_fen)),
        "conversion": (conversion, "–" if conversion is None else f"{conversion * 100:.1f}%"),
    }
    return [
        {
            "name": name,
            "value": _conversion_value(value) if name == "conversion" else ("" if value is None else str(value)),
            "text": text,
        }
        for name, (value, text) in ((name, values[name]) for name in FIGURES)
    ]


def revenue_chart(report: RevenueReport, *, limit: int = CHART_SOURCES) -> str:
    """Chart.js data: revenue (¥) of the first `limit` sources, then other and unknown."""
    rows = [*report.sources[:limit], *([report.other] if report.other else []), report.unknown]
    return json.dumps(
        {
            "labels": [row.label for row in rows],
            "datasets": [
                {
                    "label": gettext("Revenue net of refunds (¥)"),
                    "data": [float(yuan_from_fen(row.revenue_fen)) for row in rows],
                    "backgroundColor": CHART_COLOUR,
                }
            ],
        }
    )


def revenue_report_view(request):
    if not request.user.has_perm(REVENUE_PERMISSION):
        raise PermissionDenied
    form = RevenueReportForm(request.GET)
    report = None
    if form.is_valid():
        cleaned = form.cleaned_data
        report = revenue_by_source(grouping=cleaned["by"], first_day=cleaned["from"], last_day=cleaned["to"])
        # Shown with the dates and grouping used, defaults filled in.
        form = RevenueReportForm({"from": cleaned["from"], "to": cleaned["to"], "by": cleaned["by"]})
    context = {
        **admin.site.each_context(request),
        "title": gettext("Revenue by source"),
        "form": form,
        "report": report,
        "groupings": RevenueGrouping.choices,
    }
    if report is not None:
        context.update(
            rows=[{"row": row, "cells": _cells(row), "kind": row.key.split(":")[0]} for row in report.rows],
            chart=revenue_chart(report),
            chart_options=bar_chart_options(whole_numbers=False),
            dates={"from": report.first_day.isoformat(), "to": report.last_day.isoformat()},
        )
    return TemplateResponse(request, "staff_home/revenue.html", context)
