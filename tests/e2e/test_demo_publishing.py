"""Issue 6's demo, in Chromium and only through the admin: an article with two several-MB photos is
written, put in a push scheduled for the next minute, and shown sent with WeChat's counts and URL.

Beat is this test calling the every-minute dispatch task; a real Celery worker sends the push to the
sandbox, and the sandbox posts MASSSENDJOBFINISH to the live server's /wechat/oa/<appid>/.
"""

import re
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from articles.models import Article, Push, PushStatus
from articles.quota_windows import BEIJING
from articles.tasks import dispatch_pushes
from tests.articles.image_samples import encoded, noisy_photo, several_megabyte_jpeg
from tests.articles.pushes import account_registered
from tests.e2e import test_admin_browser

browser = test_admin_browser.browser
staff_member = test_admin_browser.staff_member
screenshot_dir = test_admin_browser.screenshot_dir
_logged_in_page = test_admin_browser._logged_in_page

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("staff_groups")]

FOLLOWERS = 7


def _insert_photo(page, path) -> None:
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="insert image").click()
    chooser.value.set_files(path)
    page.locator(".wechat-image-status").filter(has_text=f"{path.name} inserted.").wait_for()


def _beat_until(condition, *, seconds: float) -> None:
    """Beat fires the dispatch task every minute; here every two seconds until `condition` holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the push was not sent in time"
        dispatch_pushes()
        time.sleep(2)


def test_marketing_writes_schedules_and_sees_the_push_sent_with_wechats_counts(
    browser, live_server, staff_member, screenshot_dir, celery_worker, sandbox, tmp_path
):
    from playwright.sync_api import expect

    staff_member("Marketing", "mei")
    account = account_registered(sandbox, callback_base_url=live_server.url)
    sandbox.add_followers(account.appid, count=FOLLOWERS)
    page = _logged_in_page(browser, live_server, "mei")

    # The article: a cover, some text and two photos of several MB through the editor's image button.
    photos = []
    for name in ("tea-field.jpg", "teapot.jpg"):
        photos.append(tmp_path / name)
        photos[-1].write_bytes(several_megabyte_jpeg())
    cover = tmp_path / "cover.jpg"
    cover.write_bytes(encoded(noisy_photo(900, 383), "JPEG", quality=90))
    page.goto(f"{live_server.url}/admin/articles/article/add/")
    page.locator("#id_title").fill("Autumn oolong")
    page.locator("#id_author").fill("Mei")
    page.locator("#id_cover").set_input_files(cover)
    editor = page.locator(".ProseMirror[contenteditable=true]")
    editor.click()
    page.keyboard.type("Picked on the first cool morning.")
    _insert_photo(page, photos[0])
    # An inserted image stays selected: back to the text, so the second goes beside it, not over it.
    editor.focus()
    page.keyboard.press("Control+End")
    _insert_photo(page, photos[1])
    expect(editor.locator("img")).to_have_count(2)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    article = Article.objects.get(title="Autumn oolong")
    assert len(re.findall(r"<img ", article.content)) == 2
    assert all(photo.stat().st_size > 2_000_000 for photo in photos)

    # The push, scheduled for the next minute (Beijing time).
    at = (timezone.now() + timedelta(minutes=1)).astimezone(BEIJING).replace(second=0, microsecond=0)
    page.goto(f"{live_server.url}/admin/articles/push/add/")
    page.locator("#id_account").select_option(label=str(account))
    page.locator("#id_title").fill("Autumn push")
    page.locator("#id_push_articles-0-article").select_option(label="Autumn oolong")
    page.locator("#id_push_articles-0-position").fill("1")
    page.locator("#id_scheduled_at_0").fill(at.date().isoformat())
    page.locator("#id_scheduled_at_1").fill(at.strftime("%H:%M:%S"))
    page.get_by_role("button", name="Save and schedule").click()
    expect(page.locator(".messagelist")).to_contain_text("“Autumn push” is scheduled for")
    push = Push.objects.get(title="Autumn push")
    assert push.status == PushStatus.SCHEDULED

    _beat_until(lambda: Push.objects.get(pk=push.pk).status == PushStatus.SENT, seconds=150)

    page.reload()
    expect(page.locator("div.field-status:not(td *)")).to_contain_text("sent")
    batch = push.batches.get()
    assert (batch.job_status, batch.sent_count, batch.total_count) == ("send success", FOLLOWERS, FOLLOWERS)
    expect(page.locator("td.field-sent_count").first).to_have_text(str(FOLLOWERS))
    [url] = sandbox.mass_sends(account.appid)["sends"][0]["article_urls"]
    expect(page.locator("td.field-article_link").first).to_contain_text(url)
    assert len(sandbox.received("/cgi-bin/media/uploadimg")) == 2  # both photos, compressed to WeChat's limit
    page.screenshot(path=screenshot_dir / "marketing-push-sent.png", full_page=True)
