"""The admin's home page (settings.UNFOLD["DASHBOARD_CALLBACK"]): what each role needs to see first.

Thin: it asks the apps' home selectors and shapes their answers for the template and its charts.
Which page a user sees follows the permissions their group grants, so a superuser sees both.
"""

import json
from datetime import timedelta

from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext

from articles import home_selectors as marketing
from config.money import format_fen, yuan_from_fen
from orders import home_selectors as operations
from orders.revenue import BEIJING, RevenueGrouping, revenue_by_source

# The Marketing home page's sources earning most, over the report's default range (staff_home/revenue.py).
TOP_SOURCES = 5
TOP_SOURCES_DAYS = 30
REVENUE_PERMISSION = "campaigns.view_revenue_campaign"

# Chart colours: WeChat's green for what arrived, grey for what WeChat held back, red for errors.
GREEN, GREY, RED, BLUE = "#07c160", "#9ca3af", "#ef4444", "#3b82f6"


def sees_marketing_home(user) -> bool:
    return user.has_perm("articles.view_push")


def sees_operations_home(user) -> bool:
    return user.has_perm("orders.view_order")


def staff_home_context(request, context: dict) -> dict:
    now = timezone.now()
    if sees_marketing_home(request.user):
        context["marketing_home"] = _marketing_home(at=now)
        if request.user.has_perm(REVENUE_PERMISSION):
            context["marketing_home"]["top_sources"] = _top_sources(at=now)
    if sees_operations_home(request.user):
        context["operations_home"] = _operations_home(at=now)
        if request.user.has_perm(REVENUE_PERMISSION):
            context["operations_home"]["revenue_url"] = reverse("admin:revenue_report")
    return context


def _day_labels(days) -> list[str]:
    return [date_format(day, "m-d") for day in days]


def _chart(labels: list[str], datasets: list[dict]) -> str:
    return json.dumps({"labels": labels, "datasets": datasets})


def bar_chart_options(*, stacked: bool = False, whole_numbers: bool = True) -> str:
    """Chart.js options for the staff pages' bar charts. The theme's defaults draw a chart's datasets over
    one another, without a legend: ours are side by side (or stacked), named, and wide enough to read;
    counts get whole-number ticks, money (yuan) keeps its decimals."""
    axis = {"stacked": stacked, "grid": {"display": False}, "ticks": {"color": "#9ca3af"}}
    value_ticks = {"color": "#9ca3af", "precision": 0} if whole_numbers else axis["ticks"]
    return json.dumps(
        {
            "animation": False,
            "responsive": True,
            "maintainAspectRatio": False,
            "maxBarThickness": 28,
            "plugins": {"legend": {"display": True, "position": "top", "align": "end"}},
            "scales": {"x": axis, "y": {**axis, "beginAtZero": True, "ticks": value_ticks}},
        }
    )


def _marketing_home(*, at) -> dict:
    reach = marketing.pushes_last_reach()
    growth = marketing.follower_growth(at=at)
    return {
        "quota": marketing.mass_sends_left_by_account(at=at),
        "next_pushes": list(marketing.pushes_next_scheduled(at=at)),
        "last_pushes": reach,
        "reach_chart": _chart(
            [push.title for push in reach],
            [
                {"label": gettext("Sent"), "data": [push.sent for push in reach], "backgroundColor": GREEN},
                {"label": gettext("Filtered"), "data": [push.filtered for push in reach], "backgroundColor": GREY},
                {"label": gettext("Errors"), "data": [push.errors for push in reach], "backgroundColor": RED},
            ],
        ),
        "reach_options": bar_chart_options(),
        "growth": growth,
        "growth_options": bar_chart_options(stacked=True),
        "growth_chart": _chart(
            _day_labels(growth.days),
            [
                {"label": gettext("New followers"), "data": growth.subscribed, "backgroundColor": GREEN},
                {"label": gettext("Unfollowed"), "data": [-n for n in growth.unsubscribed], "backgroundColor": GREY},
            ],
        ),
        "pushes_url": reverse("admin:articles_push_changelist"),
        "calendar_url": reverse("admin:articles_push_calendar"),
    }


def _top_sources(*, at) -> dict:
    """The campaigns that earned most over the last 30 Beijing days, with a link to the whole report."""
    last_day = at.astimezone(BEIJING).date()
    first_day = last_day - timedelta(days=TOP_SOURCES_DAYS - 1)
    report = revenue_by_source(grouping=RevenueGrouping.CAMPAIGN, first_day=first_day, last_day=last_day)
    rows = [row for row in report.sources if row.orders][:TOP_SOURCES]
    return {
        "rows": [{"row": row, "revenue": format_fen(row.revenue_fen)} for row in rows],
        "unknown": report.unknown,
        "unknown_revenue": format_fen(report.unknown.revenue_fen),
        "total_revenue": format_fen(report.total.revenue_fen),
        "report_url": f"{reverse('admin:revenue_report')}?from={first_day.isoformat()}&to={last_day.isoformat()}",
    }


def _operations_home(*, at) -> dict:
    sales = operations.sales_per_day(at=at)
    takings = operations.takings_today(at=at)
    return {
        "takings": takings,
        "paid_today": format_fen(takings.paid_fen),
        "refunded_today": format_fen(takings.refunded_fen),
        "net_today": format_fen(takings.net_fen),
        "waiting": operations.work_waiting(at=at),
        "expiring_orders": list(operations.orders_expiring_soon(at=at)[:5]),
        "low_stock": list(operations.skus_low_on_stock()),
        "low_stock_limit": operations.LOW_STOCK,
        "runs": list(operations.reconciliation_runs_latest()),
        "sales_total": format_fen(sum(sales.net_fen)),
        "sales_chart": _chart(
            _day_labels(sales.days),
            [
                {
                    "label": gettext("Sales net of refunds (¥)"),
                    "data": [float(yuan_from_fen(fen)) for fen in sales.net_fen],
                    "backgroundColor": BLUE,
                }
            ],
        ),
        "sales_options": bar_chart_options(),
        "orders_url": reverse("admin:orders_order_changelist"),
        "refunds_url": reverse("admin:orders_refund_changelist"),
        "runs_url": reverse("admin:orders_reconciliationrun_changelist"),
        "stock_url": reverse("admin:orders_skustockandsales_changelist"),
    }
