"""Marketing builds a push of two articles for a tag and schedules it, in Chromium; a second, over quota, stays a draft.

Uses the browser fixtures of test_admin_browser.py (Debian's Chromium driven by Playwright).
"""

import re

import pytest

from articles.models import Push, PushStatus
from tests.articles.push_builders import beijing, future_day, subscription_account
from tests.e2e import test_admin_browser
from tests.factories import ArticleFactory, FollowerTagFactory

browser = test_admin_browser.browser
staff_member = test_admin_browser.staff_member
screenshot_dir = test_admin_browser.screenshot_dir
_logged_in_page = test_admin_browser._logged_in_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("staff_groups")]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def _fill_push(page, live_server, *, title: str, day, time: str) -> None:
    page.goto(f"{live_server.url}/admin/articles/push/add/")
    page.locator("#id_account").select_option(label="Daily Tea (wx00000000000000aa)")
    page.locator("#id_title").fill(title)
    page.locator("#id_audience").select_option(label="Followers with a tag")
    page.locator("#id_audience_tag").select_option(label="Tea lovers (320 followers)")
    page.locator("#id_push_articles-0-article").select_option(label="Second: the teapot")
    page.locator("#id_push_articles-0-position").fill("2")
    # The inline's own button, not the "+" beside the select (which adds an article in a popup).
    page.get_by_role("link", name=re.compile(r"Add another Article$")).click()
    page.locator("#id_push_articles-1-article").select_option(label="First: the leaves")
    page.locator("#id_push_articles-1-position").fill("1")
    page.locator("#id_scheduled_at_0").fill(day.isoformat())
    page.locator("#id_scheduled_at_1").fill(time)


def test_marketing_builds_and_schedules_a_push_and_sees_the_quota_refuse_a_second(
    browser, live_server, staff_member, screenshot_dir
):
    from playwright.sync_api import expect

    staff_member("Marketing", "mei")
    account = subscription_account(name="Daily Tea", appid="wx00000000000000aa")
    FollowerTagFactory(account=account, name="Tea lovers", follower_count=320)
    first = ArticleFactory(title="First: the leaves")
    second = ArticleFactory(title="Second: the teapot")
    day = future_day()
    page = _logged_in_page(browser, live_server, "mei")

    page.goto(f"{live_server.url}/admin/")
    page.locator("#nav-sidebar li.model-push").get_by_role("link").click()
    expect(page.locator("#push-quota")).to_contain_text("Daily Tea")

    _fill_push(page, live_server, title="Autumn leaves", day=day, time="23:59:00")
    page.screenshot(path=screenshot_dir / "marketing-push-form.png", full_page=True)
    page.get_by_role("button", name="Save and schedule").click()

    expect(page.locator(".messagelist")).to_contain_text("“Autumn leaves” is scheduled for")
    expect(page.get_by_role("button", name="Cancel push")).to_be_visible()
    expect(page.locator(".field-status")).to_contain_text("scheduled")
    push = Push.objects.get(title="Autumn leaves")
    assert (push.status, push.scheduled_at) == (PushStatus.SCHEDULED, beijing(day, 23, 59))
    assert list(push.push_articles.values_list("article_id", flat=True)) == [first.pk, second.pk]
    assert push.audience_tag_id is not None

    # The same Beijing day has no mass send left for a subscription account: the draft is kept, the
    # refusal named at the top of its page.
    _fill_push(page, live_server, title="Too many leaves", day=day, time="08:00:00")
    page.get_by_role("button", name="Save and schedule").click()
    error = page.locator(".messagelist")
    expect(error).to_contain_text("Saved as a draft, not scheduled")
    expect(error).to_contain_text("This subscription account has used 1 of 1 mass send")
    expect(error).to_contain_text("The next free slot is")
    expect(page.locator(".field-status")).to_contain_text("draft")
    page.screenshot(path=screenshot_dir / "marketing-push-quota-refused.png", full_page=True)
    assert Push.objects.get(title="Too many leaves").status == PushStatus.DRAFT

    page.goto(f"{live_server.url}/admin/articles/push/calendar/?account={account.pk}&month={day:%Y-%m}")
    expect(page.locator(f'#push-calendar td[data-date="{day.isoformat()}"]')).to_contain_text("23:59 Autumn leaves")
    page.screenshot(path=screenshot_dir / "marketing-push-calendar.png", full_page=True)
