"""The revenue report page (/admin/revenue/, staff_home/revenue.py): who may read it, its form, and the
markup contract browser tests read (table#revenue-report, tr[data-source], td[data-figure][data-value])."""

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services import campaign_create
from orders.revenue import BEIJING
from tests.orders.test_revenue import paid_order, refund, visitor

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("staff_groups")]

URL = "/admin/revenue/"
IN_NOVEMBER = "?from=2026-11-01&to=2026-11-30"


def _staff(group: str | None):
    user = get_user_model().objects.create_user(f"staff-{group}", password="pw-for-tests-only", is_staff=True)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def _row(page: str, key: str) -> dict[str, str]:
    """The data-value of each figure of the row `key`."""
    found = re.search(rf'<tr data-source="{re.escape(key)}"[^>]*>(.*?)</tr>', page, flags=re.DOTALL)
    assert found, f"no row {key}"
    return dict(re.findall(r'<td data-figure="([a-z_]+)" data-value="([^"]*)">', found.group(1)))


def test_the_url_is_the_admins_revenue_report():
    assert reverse("admin:revenue_report") == URL


@pytest.mark.parametrize("group", ["Marketing", "Operations"])
def test_marketing_and_operations_read_the_report(client, group):
    client.force_login(_staff(group))

    response = client.get(URL)

    assert response.status_code == 200
    assert '<table id="revenue-report" data-by="campaign"' in response.content.decode()


def test_a_superuser_reads_it(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-for-tests-only"))

    assert client.get(URL).status_code == 200


def test_staff_without_the_permission_are_refused(client):
    client.force_login(_staff(None))

    assert client.get(URL).status_code == 403


def test_someone_not_logged_in_is_sent_to_the_login_page(client):
    response = client.get(URL)

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "query",
    [
        "?from=2026-13-01",
        "?from=yesterday&to=2026-11-30",
        "?to=2026-02-30",
        "?from=2026-11-01&to=2026-11",
        "?by=poster",
        "?from=0001-01-01&to=9999-12-31",
        "?from=0001-01-01",
        "?to=0001-01-01",
        "?from=9999-12-31",
    ],
)
def test_bad_dates_or_grouping_are_a_form_error_never_a_server_error(client, query):
    client.force_login(_staff("Marketing"))

    response = client.get(URL + query)
    page = response.content.decode()

    assert response.status_code == 200
    assert "errorlist" in page
    assert 'id="revenue-report"' not in page


def test_from_after_to_is_a_form_error(client):
    client.force_login(_staff("Marketing"))

    page = client.get(URL + "?from=2026-11-30&to=2026-11-01").content.decode()

    assert 'id="revenue-form-errors"' in page and "must be on or before" in page
    assert 'id="revenue-report"' not in page


def test_without_dates_the_report_covers_the_last_30_beijing_days(client):
    client.force_login(_staff("Marketing"))
    today = timezone.now().astimezone(BEIJING).date()
    paid_order(1000, scene=1058, at=timezone.now())
    paid_order(2000, scene=1058, at=timezone.now() - timedelta(days=40))

    response = client.get(URL + "?by=scene")

    assert response.context["report"].first_day == today - timedelta(days=29)
    assert response.context["report"].last_day == today
    assert _row(response.content.decode(), "total")["revenue_fen"] == "1000"


def test_the_markup_names_every_source_and_figure_with_raw_values(client):
    client.force_login(_staff("Marketing"))
    campaign_create(name="Spring poster", channel=Campaign.Channel.POSTER, code="poster-0412")
    buyer = visitor("poster-0412", scene=1047, at=datetime(2026, 11, 3, 9, 0, tzinfo=BEIJING))
    visitor("poster-0412", scene=1047, at=datetime(2026, 11, 4, 9, 0, tzinfo=BEIJING))
    visitor("poster-0412", scene=1047, at=datetime(2026, 11, 5, 9, 0, tzinfo=BEIJING))
    visitor("poster-0412", scene=1047, at=datetime(2026, 11, 6, 9, 0, tzinfo=BEIJING))
    payment = paid_order(12345, customer=buyer, code="poster-0412", scene=1047)
    paid_order(500, code="", scene=None)

    page = client.get(URL + IN_NOVEMBER + "&by=campaign").content.decode()

    assert '<table id="revenue-report" data-by="campaign"' in page
    assert _row(page, "campaign:poster-0412") == {
        "readers": "",
        "visitors": "4",
        "orders": "1",
        "buyers": "1",
        "revenue_fen": "12345",
        "conversion": "0.25",
    }
    assert _row(page, "unknown")["revenue_fen"] == "500"
    assert _row(page, "total")["revenue_fen"] == "12845"
    assert "¥123.45" in page and "25.0%" in page  # shown for staff

    refund(payment, 2345)
    page = client.get(URL + IN_NOVEMBER + "&by=campaign").content.decode()
    assert _row(page, "campaign:poster-0412")["revenue_fen"] == "10000"


@pytest.mark.parametrize("grouping", ["push", "article", "campaign", "scene"])
def test_each_grouping_has_its_table_with_unknown_and_total_rows(client, grouping):
    client.force_login(_staff("Operations"))
    paid_order(700, scene=1035)

    page = client.get(URL + IN_NOVEMBER + f"&by={grouping}").content.decode()

    assert f'<table id="revenue-report" data-by="{grouping}"' in page
    assert 'data-source="unknown"' in page and 'data-source="total"' in page
    assert ('data-source="other"' in page) == (grouping in ("push", "article"))
    if grouping == "scene":
        assert _row(page, "scene:1035")["revenue_fen"] == "700"
    # The bar chart, drawn by the theme's Chart.js from our own static files.
    assert 'class="chart"' in page and 'data-type="bar"' in page and "/static/unfold/js/chart/chart.js" in page


def test_the_marketing_home_page_shows_the_top_sources_and_links_to_the_report(client):
    client.force_login(_staff("Marketing"))
    today = timezone.now().astimezone(BEIJING).date()
    for number in range(7):
        campaign_create(name=f"Poster {number}", channel=Campaign.Channel.POSTER, code=f"poster-{number}")
        paid_order(1000 * (number + 1), code=f"poster-{number}", scene=1047, at=timezone.now())

    page = client.get("/admin/").content.decode()

    top = page[page.index('id="home-top-sources"') :]
    keys = re.findall(r'<tr data-source="([^"]+)"', top)[:5]
    assert keys == [f"campaign:poster-{number}" for number in (6, 5, 4, 3, 2)]
    assert f'href="{URL}?from={today - timedelta(days=29)}&amp;to={today}"' in top


def test_the_home_page_leaves_the_top_sources_out_without_the_permission(client):
    marketer = _staff("Marketing")
    Group.objects.get(name="Marketing").permissions.remove(
        *Group.objects.get(name="Marketing").permissions.filter(codename="view_revenue_campaign")
    )
    client.force_login(marketer)

    page = client.get("/admin/").content.decode()

    assert 'id="marketing-home"' in page and 'id="home-top-sources"' not in page
