"""The Push admin: drafts built through the services, refusals as form errors, schedule / cancel / retry, calendar."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from articles.models import MassSendQuotaSpent, Push, PushArticle, PushAudience, PushBatch, PushMode, PushStatus
from articles.quota_windows import BEIJING
from articles.services.pushes import push_schedule
from tests.articles.push_builders import (
    beijing,
    draft_push,
    future_day,
    openid,
    service_account,
    subscription_account,
)
from tests.factories import ArticleFactory, FollowerTagFactory, PushFactory

pytestmark = pytest.mark.django_db

ADD_URL = reverse("admin:articles_push_add")
CHANGELIST_URL = reverse("admin:articles_push_changelist")
CALENDAR_URL = reverse("admin:articles_push_calendar")
# Session, user, accounts and their quota (pushes, spent windows), the account filter, two counts,
# the page of rows, and the date hierarchy's two.
CHANGELIST_QUERY_LIMIT = 11


def _change_url(push: Push) -> str:
    return reverse("admin:articles_push_change", args=[push.pk])


def _form_data(account, articles=(), *, existing=(), **fields) -> dict:
    """The add/change form as the browser posts it: fields, the articles inline and the read-only inlines."""
    data = {
        "account": account.pk,
        "title": "Autumn tea",
        "mode": PushMode.MASS_SEND,
        "audience": PushAudience.ALL,
        "audience_tag": "",
        "audience_openids": "",
        "scheduled_at_0": "",
        "scheduled_at_1": "",
        "push_articles-TOTAL_FORMS": len(articles),
        "push_articles-INITIAL_FORMS": len(existing),
        "push_articles-MIN_NUM_FORMS": 0,
        "push_articles-MAX_NUM_FORMS": 8,
    }
    for index, (article, position) in enumerate(articles):
        data[f"push_articles-{index}-article"] = article.pk if article else ""
        data[f"push_articles-{index}-position"] = position or ""
        if index < len(existing):
            data[f"push_articles-{index}-id"] = existing[index].pk
            data[f"push_articles-{index}-push"] = existing[index].push_id
    for prefix in ("batches", "events"):
        data |= {f"{prefix}-TOTAL_FORMS": 0, f"{prefix}-INITIAL_FORMS": 0, f"{prefix}-MAX_NUM_FORMS": 0}
    return data | fields


def _numbered(articles) -> list:
    return [(article, position) for position, article in enumerate(articles, start=1)]


def _errors(response) -> dict:
    """Field errors of the main form, and the articles inline's own errors under "articles"."""
    assert response.status_code == 200, "expected the form again, with errors"
    errors = {name: list(messages) for name, messages in response.context["adminform"].form.errors.items()}
    for inline in response.context["inline_admin_formsets"]:
        if inline.formset.prefix == "push_articles" and inline.formset.non_form_errors():
            errors["articles"] = list(inline.formset.non_form_errors())
    return errors


# --- building a draft ----------------------------------------------------------------------------


def test_adding_a_push_saves_a_draft_with_its_articles_in_position_order(admin_client, admin_user):
    account = service_account()
    first, second, third = ArticleFactory.create_batch(3)

    response = admin_client.post(
        ADD_URL, _form_data(account, [(first, 3), (second, 1), (third, None)], title="秋季新茶")
    )

    assert response.status_code == 302
    push = Push.objects.get()
    assert (push.title, push.status, push.created_by) == ("秋季新茶", PushStatus.DRAFT, admin_user)
    assert list(push.push_articles.values_list("article_id", "position")) == [
        (second.pk, 1),
        (first.pk, 2),
        (third.pk, 3),
    ]


def test_no_articles_is_a_form_error(admin_client):
    response = admin_client.post(ADD_URL, _form_data(service_account(), []))

    assert _errors(response) == {"articles": ["Add at least one article."]}
    assert not Push.objects.exists()


def test_nine_articles_is_a_form_error(admin_client):
    articles = ArticleFactory.create_batch(9)

    response = admin_client.post(ADD_URL, _form_data(service_account(), [(article, None) for article in articles]))

    assert _errors(response) == {"articles": ["A push holds at most 8 articles (WeChat's limit); this one has 9."]}
    assert not Push.objects.exists()


def test_two_articles_at_one_position_is_a_form_error(admin_client):
    first, second = ArticleFactory.create_batch(2)

    response = admin_client.post(ADD_URL, _form_data(service_account(), [(first, 2), (second, 2)]))

    assert _errors(response) == {"articles": ["Two articles cannot share position 2."]}


def test_a_tag_audience_without_a_tag_is_a_form_error(admin_client):
    response = admin_client.post(
        ADD_URL, _form_data(service_account(), _numbered(ArticleFactory.create_batch(1)), audience=PushAudience.TAG)
    )

    assert _errors(response) == {"audience_tag": ["Pick the tag whose followers receive the push."]}


def test_the_tag_dropdown_lists_each_accounts_synced_tags_and_refuses_another_accounts(admin_client):
    account = service_account(name="Tea House")
    other_tag = FollowerTagFactory(account=service_account(name="Coffee House"), name="Baristas")
    own_tag = FollowerTagFactory(account=account, name="Tea lovers", follower_count=1234)

    page = admin_client.get(ADD_URL).content.decode()
    refused = admin_client.post(
        ADD_URL,
        _form_data(
            account, _numbered(ArticleFactory.create_batch(1)), audience=PushAudience.TAG, audience_tag=other_tag.pk
        ),
    )
    accepted = admin_client.post(
        ADD_URL,
        _form_data(
            account, _numbered(ArticleFactory.create_batch(1)), audience=PushAudience.TAG, audience_tag=own_tag.pk
        ),
    )

    assert '<optgroup label="Tea House">' in page
    assert "Tea lovers (1,234 followers)" in page
    assert _errors(refused) == {"audience_tag": ["That is Coffee House's tag; pick one of Tea House's tags."]}
    assert accepted.status_code == 302
    assert Push.objects.get().audience_tag_id == own_tag.tag_id


def test_bad_openids_are_a_form_error_naming_the_lines(admin_client):
    response = admin_client.post(
        ADD_URL,
        _form_data(
            service_account(),
            _numbered(ArticleFactory.create_batch(1)),
            audience=PushAudience.OPENIDS,
            audience_openids=f"{openid(1)}\nsomeone@example.com\n{openid(2)}",
        ),
    )

    (message,) = _errors(response)["audience_openids"]
    assert message.startswith("Not an openid: line 2 (“someone@example.com”).")


def test_a_single_openid_is_a_form_error_pointing_to_preview(admin_client):
    response = admin_client.post(
        ADD_URL,
        _form_data(
            service_account(),
            _numbered(ArticleFactory.create_batch(1)),
            audience=PushAudience.OPENIDS,
            audience_openids=openid(1),
        ),
    )

    (message,) = _errors(response)["audience_openids"]
    assert "at least 2" in message and "Preview on my WeChat" in message


def test_repeated_openids_are_dropped_and_staff_told(admin_client):
    text = "\n".join([openid(1), openid(2), openid(1)])

    response = admin_client.post(
        ADD_URL,
        _form_data(
            service_account(),
            _numbered(ArticleFactory.create_batch(1)),
            audience=PushAudience.OPENIDS,
            audience_openids=text,
        ),
        follow=True,
    )

    assert Push.objects.get().audience_openids == f"{openid(1)}\n{openid(2)}"
    assert "1 repeated openid(s) were dropped." in [str(message) for message in response.context["messages"]]


def test_a_draft_swaps_two_articles_places(admin_client):
    push = draft_push(service_account(), articles=2)
    first, second = push.push_articles.order_by("position")

    response = admin_client.post(
        _change_url(push),
        _form_data(push.account, [(first.article, 2), (second.article, 1)], existing=[first, second]),
    )

    assert response.status_code == 302, _errors(response)
    assert list(push.push_articles.values_list("article_id", flat=True)) == [
        second.article_id,
        first.article_id,
    ]


# --- scheduling from the form and its own page ---------------------------------------------------


def test_save_and_schedule_schedules_the_new_draft(admin_client, admin_user):
    account = subscription_account()
    day = future_day()

    response = admin_client.post(
        ADD_URL,
        _form_data(
            account,
            _numbered(ArticleFactory.create_batch(2)),
            scheduled_at_0=day.isoformat(),
            scheduled_at_1="08:30:00",
            _schedule="Save and schedule",
        ),
    )

    push = Push.objects.get()
    assert response.status_code == 302 and response["Location"] == _change_url(push)
    assert (push.status, push.scheduled_at) == (PushStatus.SCHEDULED, beijing(day, 8, 30))
    assert push.events.get().staff_user == admin_user


def test_save_and_schedule_over_the_quota_is_a_form_error_and_saves_nothing(admin_client):
    account = subscription_account()
    day = future_day()
    push_schedule(push_id=draft_push(account).pk, at=beijing(day, 7), staff_user=None)

    response = admin_client.post(
        ADD_URL,
        _form_data(
            account,
            _numbered(ArticleFactory.create_batch(1)),
            scheduled_at_0=day.isoformat(),
            scheduled_at_1="20:00:00",
            _schedule="Save and schedule",
        ),
    )

    (message,) = _errors(response)["scheduled_at"]
    assert message.startswith(f"This subscription account has used 1 of 1 mass send for {day.day} {day:%B %Y}")
    assert "The next free slot is" in message
    assert Push.objects.count() == 1


def test_save_and_schedule_needs_a_time_or_send_now(admin_client):
    response = admin_client.post(
        ADD_URL, _form_data(service_account(), _numbered(ArticleFactory.create_batch(1)), _schedule="Save and schedule")
    )

    assert _errors(response) == {"scheduled_at": ["Pick a time, or tick “Send now”."]}


def test_send_now_from_the_form_schedules_for_now(admin_client):
    before = timezone.now()

    admin_client.post(
        ADD_URL,
        _form_data(
            service_account(), _numbered(ArticleFactory.create_batch(1)), send_now="on", _schedule="Save and schedule"
        ),
    )

    push = Push.objects.get()
    assert push.status == PushStatus.SCHEDULED and push.scheduled_at >= before


def test_the_schedule_page_shows_a_quota_refusal_beside_the_time(admin_client):
    account = service_account()
    day = future_day()
    for hour in (1, 2, 3, 4):
        push_schedule(push_id=draft_push(account).pk, at=beijing(day, hour), staff_user=None)
    push = draft_push(account)
    url = reverse("admin:articles_push_schedule", args=[push.pk])

    response = admin_client.post(url, {"scheduled_at_0": day.isoformat(), "scheduled_at_1": "12:00:00"})

    assert response.status_code == 200
    (message,) = response.context["form"].errors["scheduled_at"]
    assert message.startswith(f"This service account has used 4 of 4 mass sends for {day:%B %Y}")
    push.refresh_from_db()
    assert push.status == PushStatus.DRAFT


def test_a_failed_push_is_retried_from_its_page(admin_client, admin_user):
    push = draft_push(service_account())
    Push.objects.filter(pk=push.pk).update(status=PushStatus.FAILED, failure_reason="-1 system busy")
    page = admin_client.get(_change_url(push)).content.decode()

    response = admin_client.post(reverse("admin:articles_push_schedule", args=[push.pk]), {"send_now": "on"})

    assert "Retry…" in page and "-1 system busy" in page
    assert response.status_code == 302
    push.refresh_from_db()
    assert push.status == PushStatus.SCHEDULED
    assert push.events.get().reason.startswith("retry scheduled now")


def test_a_sent_push_cannot_be_scheduled_again(admin_client):
    push = PushFactory(status=PushStatus.SENT)

    response = admin_client.post(reverse("admin:articles_push_schedule", args=[push.pk]), {"send_now": "on"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors() == [
        "This push is sent: only drafts can be scheduled and failed pushes retried."
    ]


def test_cancel_cancels_a_scheduled_push_and_explains_a_late_one(admin_client):
    push = draft_push(service_account())
    push_schedule(push_id=push.pk, at=beijing(future_day(), 9), staff_user=None)
    sending = PushFactory(status=PushStatus.SENDING)

    cancelled = admin_client.post(reverse("admin:articles_push_cancel", args=[push.pk]), follow=True)
    too_late = admin_client.post(reverse("admin:articles_push_cancel", args=[sending.pk]), follow=True)

    push.refresh_from_db()
    assert push.status == PushStatus.CANCELLED
    assert f"“{push}” is cancelled." in [str(message) for message in cancelled.context["messages"]]
    assert "This push is sending: only a scheduled push can be cancelled." in [
        str(message) for message in too_late.context["messages"]
    ]
    assert PushStatus(Push.objects.get(pk=sending.pk).status) == PushStatus.SENDING


def test_staff_without_send_push_cannot_schedule(client, django_user_model):
    from django.contrib.auth.models import Permission

    writer = django_user_model.objects.create_user("writer", is_staff=True)
    writer.user_permissions.add(*Permission.objects.filter(codename__in=["add_push", "change_push", "view_push"]))
    client.force_login(writer)
    push = draft_push(service_account())

    assert client.post(reverse("admin:articles_push_schedule", args=[push.pk]), {"send_now": "on"}).status_code == 403
    assert 'name="_schedule"' not in client.get(_change_url(push)).content.decode()


# --- reading pushes --------------------------------------------------------------------------------


def test_a_sent_push_shows_its_history_batches_and_article_urls_read_only(admin_client, admin_user):
    push = draft_push(service_account(), articles=2)
    push_schedule(push_id=push.pk, at=None, staff_user=admin_user)
    Push.objects.filter(pk=push.pk).update(status=PushStatus.SENT, sent_at=timezone.now())
    PushArticle.objects.filter(push=push, position=1).update(article_url="https://mp.weixin.qq.com/s/first")
    PushBatch.objects.create(
        push=push,
        number=1,
        clientmsgid="push-1-b1",
        msg_id="1000001",
        job_status="send success",
        total_count=1000,
        filter_count=980,
        sent_count=975,
        error_count=5,
    )

    page = admin_client.get(_change_url(push)).content.decode()

    assert "https://mp.weixin.qq.com/s/first" in page
    assert "send success" in page and "975" in page and "push-1-b1" in page
    assert "scheduled now" in page  # the event's reason
    assert 'name="_save"' not in page and 'name="_schedule"' not in page


def test_the_changelist_shows_status_counts_and_quota_left_per_account(admin_client, django_assert_max_num_queries):
    subscription = subscription_account(name="Daily Tea")
    service = service_account(name="Tea Monthly")
    sent = PushFactory(account=service, status=PushStatus.SENT, scheduled_at=timezone.now(), title="Sent one")
    PushBatch.objects.create(push=sent, number=1, clientmsgid="c1", sent_count=90, total_count=100)
    PushBatch.objects.create(push=sent, number=2, clientmsgid="c2", sent_count=10, total_count=10)
    PushFactory.create_batch(10, account=subscription)

    with django_assert_max_num_queries(CHANGELIST_QUERY_LIMIT):
        response = admin_client.get(CHANGELIST_URL)

    page = response.content.decode()
    assert "100 of 110" in page
    rows = {row["account"].name: row for row in response.context["quota_rows"]}
    assert rows["Tea Monthly"]["this_window"].startswith("3 of 4 left")
    assert rows["Daily Tea"]["next_window"].startswith("1 of 1 left")


def test_the_account_admin_shows_what_is_left_this_window_and_the_next(admin_client):
    account = service_account(name="Tea Monthly")
    PushFactory(account=account, status=PushStatus.SCHEDULED, scheduled_at=timezone.now())
    today = timezone.now().astimezone(BEIJING).date()
    next_month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    MassSendQuotaSpent.objects.create(account=account, window_start=next_month, reason="45028")

    listing = admin_client.get(reverse("admin:wechat_officialaccount_changelist")).content.decode()
    page = admin_client.get(reverse("admin:wechat_officialaccount_change", args=[account.pk])).content.decode()

    assert "3 of 4 left" in listing
    assert f"none left ({next_month:%B %Y}: WeChat reported the quota spent)" in listing
    assert "Push calendar" in page


def test_the_calendar_shows_pushes_on_their_beijing_day(admin_client):
    account = subscription_account(name="Daily Tea")
    day = future_day()
    late = draft_push(account, title="Late tea")
    push_schedule(push_id=late.pk, at=beijing(day, 23, 59), staff_user=None)
    # 00:30 Beijing is 16:30 UTC the day before: it belongs to the next Beijing day.
    early = draft_push(account, title="Early tea")
    push_schedule(push_id=early.pk, at=beijing(day + timedelta(days=1), 0, 30), staff_user=None)
    sent = PushFactory(
        account=account, status=PushStatus.SENT, scheduled_at=beijing(day - timedelta(days=1), 9), title="Sent tea"
    )
    PushBatch.objects.create(
        push=sent, number=1, clientmsgid="cal-1", sent_count=42, accepted_at=beijing(day - timedelta(days=1), 9, 1)
    )
    PushFactory(account=account, status=PushStatus.CANCELLED, scheduled_at=beijing(day, 12), title="Cancelled tea")

    response = admin_client.get(CALENDAR_URL, {"account": account.pk, "month": f"{day:%Y-%m}"})

    assert response.status_code == 200
    cells = {
        cell["date"]: [push.title for push in cell["pushes"]] for week in response.context["weeks"] for cell in week
    }
    assert cells[day] == ["Late tea"]
    assert cells[day + timedelta(days=1)] == ["Early tea"]
    assert cells[day - timedelta(days=1)] == ["Sent tea"]
    page = response.content.decode()
    assert "23:59 Late tea" in page and "42 sent" in page
    assert "Cancelled tea" not in page


def test_the_calendar_marks_a_window_wechat_reported_spent(admin_client):
    account = service_account()
    day = future_day()
    MassSendQuotaSpent.objects.create(account=account, window_start=day.replace(day=1), reason="45028")

    response = admin_client.get(CALENDAR_URL, {"account": account.pk, "month": f"{day:%Y-%m}"})

    in_month = [cell for week in response.context["weeks"] for cell in week if cell["in_month"]]
    assert all(cell["spent_at_wechat"] for cell in in_month)
    assert "WeChat: quota spent" in response.content.decode()


def test_marketing_builds_and_schedules_a_push_without_permissions_on_its_article_rows(client, django_user_model):
    from django.contrib.auth.models import Group

    marketer = django_user_model.objects.create_user("mei", is_staff=True)
    marketer.groups.add(Group.objects.get(name="Marketing"))
    client.force_login(marketer)
    day = future_day()

    response = client.post(
        ADD_URL,
        _form_data(
            service_account(),
            _numbered(ArticleFactory.create_batch(2)),
            scheduled_at_0=day.isoformat(),
            scheduled_at_1="10:00:00",
            _schedule="Save and schedule",
        ),
    )

    assert response.status_code == 302
    push = Push.objects.get()
    assert (push.status, push.push_articles.count()) == (PushStatus.SCHEDULED, 2)
    assert not marketer.has_perm("articles.add_pusharticle")
