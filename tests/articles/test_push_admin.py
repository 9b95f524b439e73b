"""The Push admin: drafts built through the services, refusals as form errors, schedule / cancel / retry, calendar."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from articles.admin_pushes import quota_summary
from articles.models import (
    ConsoleMassSend,
    Follower,
    MassSendQuotaSpent,
    Push,
    PushArticle,
    PushAudience,
    PushBatch,
    PushMode,
    PushStatus,
)
from articles.quota_windows import BEIJING
from articles.selectors import quota_windows_for_accounts
from articles.services.pushes import push_create, push_schedule
from articles.services.quota import console_send_record
from articles.services.receipts import receipts_record
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
# Session, user, accounts and their quota (pushes, console sends, spent windows), the account filter,
# two counts, the page of rows, and the date hierarchy's two.
CHANGELIST_QUERY_LIMIT = 12


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


def test_a_subscription_accounts_openid_list_is_a_form_error_with_the_reason(admin_client):
    response = admin_client.post(
        ADD_URL,
        _form_data(
            subscription_account(name="Tea Notes"),
            _numbered(ArticleFactory.create_batch(1)),
            audience=PushAudience.OPENIDS,
            audience_openids=f"{openid(1)}\n{openid(2)}",
        ),
    )

    assert _errors(response) == {
        "audience": [
            "Tea Notes is a subscription account: WeChat lets only service accounts send to a list of openids "
            "(message/mass/send). Send to all followers or to a tag instead."
        ]
    }
    assert not Push.objects.exists()


def test_the_push_page_warns_how_many_of_a_list_already_had_four_this_month(admin_client):
    account = service_account()
    listed = [openid(number) for number in range(1, 6)]
    now = timezone.now()
    receipts_record(account=account, openids=listed[:2], at=now)
    for _ in range(3):
        receipts_record(account=account, openids=listed[:3], at=now)
    push = push_create(
        account=account,
        title="For the list",
        mode=PushMode.MASS_SEND,
        audience=PushAudience.OPENIDS,
        audience_openids="\n".join(listed),
        article_ids=[ArticleFactory().pk],
    )
    month = f"{now.astimezone(BEIJING):%B %Y}"
    expected = f"2 of this push&#x27;s recipients have already received 4 mass sends in {month}"

    change_page = admin_client.get(_change_url(push)).content.decode()
    schedule_page = admin_client.get(reverse("admin:articles_push_schedule", args=[push.pk])).content.decode()

    assert expected in change_page and expected in schedule_page
    # A console send this month is taken to have reached everyone: the third follower has had four too.
    console_send_record(account=account, sent_at=now - timedelta(minutes=1))
    assert "3 of this push&#x27;s recipients" in admin_client.get(_change_url(push)).content.decode()


def test_the_push_page_warns_how_many_of_a_tag_already_had_four_this_month(admin_client):
    """A tag's members, from our synced followers, counted against their own monthly receipts."""
    account = service_account()
    tag = FollowerTagFactory(account=account)
    for number in range(1, 5):
        Follower.objects.create(account=account, openid=openid(number), tag_ids=[tag.tag_id])
    Follower.objects.create(account=account, openid=openid(9), tag_ids=[])  # not in the tag, at four too
    now = timezone.now()
    for _ in range(4):
        receipts_record(account=account, openids=[openid(1), openid(2), openid(9)], at=now)
    push = push_create(
        account=account,
        title="For the tag",
        mode=PushMode.MASS_SEND,
        audience=PushAudience.TAG,
        audience_tag_id=tag.tag_id,
        article_ids=[ArticleFactory().pk],
    )

    page = admin_client.get(_change_url(push)).content.decode()

    month = f"{now.astimezone(BEIJING):%B %Y}"
    assert f"2 of this push&#x27;s recipients have already received 4 mass sends in {month}" in page


def test_the_push_page_warns_when_content_will_be_too_long_once_images_are_uploaded(admin_client):
    image = "/media/articles/inline/photo.jpg"
    images = f'<img src="{image}">' * 20
    article = ArticleFactory(title="Long read", content="<p>" + "a" * (19_900 - len(images)) + "</p>" + images)
    push = push_create(
        account=service_account(),
        title="Long",
        mode=PushMode.MASS_SEND,
        audience=PushAudience.ALL,
        article_ids=[article.pk],
    )

    page = admin_client.get(_change_url(push)).content.decode()

    assert "“Long read” will be about" in page and "cut at least" in page


def test_saving_a_push_whose_content_will_be_too_long_warns_at_once(admin_client):
    images = '<img src="/media/articles/inline/photo.jpg">' * 20
    article = ArticleFactory(title="Long read", content="<p>" + "a" * (19_900 - len(images)) + "</p>" + images)

    response = admin_client.post(ADD_URL, _form_data(service_account(), _numbered([article])), follow=True)

    shown = [str(message) for message in response.context["messages"]]
    assert any(message.startswith("“Long read” will be about") for message in shown), shown
    assert Push.objects.get().status == PushStatus.DRAFT


def test_staff_record_a_console_send_and_it_counts(admin_client, admin_user):
    account = subscription_account()
    sent_at = timezone.now().astimezone(BEIJING) - timedelta(minutes=5)

    response = admin_client.post(
        reverse("admin:articles_consolemasssend_add"),
        {
            "account": account.pk,
            "sent_at_0": sent_at.date().isoformat(),
            "sent_at_1": sent_at.strftime("%H:%M:%S"),
            "note": "Sent from the phone",
        },
    )

    assert response.status_code == 302
    send = ConsoleMassSend.objects.get()
    assert (send.account, send.recorded_by, send.note) == (account, admin_user, "Sent from the phone")
    assert "none left" not in quota_summary_now(account) and quota_summary_now(account).startswith("0 of 1 left")


def test_a_console_send_in_the_future_is_a_form_error(admin_client):
    later = timezone.now().astimezone(BEIJING) + timedelta(days=1)

    response = admin_client.post(
        reverse("admin:articles_consolemasssend_add"),
        {
            "account": service_account().pk,
            "sent_at_0": later.date().isoformat(),
            "sent_at_1": "10:00:00",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["sent_at"] == [
        "That time has not come yet: record a console send once it has been made."
    ]
    assert not ConsoleMassSend.objects.exists()


def quota_summary_now(account) -> str:
    return quota_summary(quota_windows_for_accounts(accounts=[account], at=timezone.now())[account.pk][0])


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


def _messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_save_and_schedule_over_the_quota_keeps_the_saved_draft_and_names_the_quota(admin_client):
    account = subscription_account()
    day = future_day()
    push_schedule(push_id=draft_push(account).pk, at=beijing(day, 7), staff_user=None)

    response = admin_client.post(
        ADD_URL,
        _form_data(
            account,
            _numbered(ArticleFactory.create_batch(1)),
            title="Kept draft",
            scheduled_at_0=day.isoformat(),
            scheduled_at_1="20:00:00",
            _schedule="Save and schedule",
        ),
        follow=True,
    )

    draft = Push.objects.get(title="Kept draft")
    assert draft.status == PushStatus.DRAFT and draft.push_articles.count() == 1
    assert response.redirect_chain[-1][0] == _change_url(draft)
    (message,) = _messages(response)
    assert message.startswith(
        f"Saved as a draft, not scheduled: This subscription account has used 1 of 1 mass send for {day.day} "
    )
    assert "The next free slot is" in message


def test_save_and_schedule_now_over_the_quota_is_a_page_level_error_not_the_empty_date(admin_client):
    account = subscription_account()
    push_schedule(push_id=draft_push(account).pk, at=None, staff_user=None)  # today's one mass send

    response = admin_client.post(
        ADD_URL,
        _form_data(
            account,
            _numbered(ArticleFactory.create_batch(1)),
            title="Now or never",
            send_now="on",
            _schedule="Save and schedule",
        ),
        follow=True,
    )

    draft = Push.objects.get(title="Now or never")
    assert draft.status == PushStatus.DRAFT
    (message,) = _messages(response)
    assert "This subscription account has used 1 of 1 mass send" in message
    assert "adminform" not in response.context or not response.context["adminform"].form.errors


def test_the_schedule_page_with_send_now_shows_a_quota_refusal_above_the_form(admin_client):
    account = subscription_account()
    push_schedule(push_id=draft_push(account).pk, at=None, staff_user=None)
    push = draft_push(account)

    response = admin_client.post(reverse("admin:articles_push_schedule", args=[push.pk]), {"send_now": "on"})

    form = response.context["form"]
    assert "scheduled_at" not in form.errors
    (message,) = form.non_field_errors()
    assert message.startswith("This subscription account has used 1 of 1 mass send")


def test_save_and_schedule_a_service_accounts_tag_push_past_its_four_sends_to_all(admin_client):
    """群发接口和原创校验, 前言: a service account's sends to a tag are not in its monthly four."""
    account = service_account()
    tag = FollowerTagFactory(account=account, tag_id=7)
    day = future_day()
    for hour in (1, 2, 3, 4):
        push_schedule(push_id=draft_push(account).pk, at=beijing(day, hour), staff_user=None)

    response = admin_client.post(
        ADD_URL,
        _form_data(
            account,
            _numbered(ArticleFactory.create_batch(1)),
            audience=PushAudience.TAG,
            audience_tag=tag.pk,
            scheduled_at_0=day.isoformat(),
            scheduled_at_1="20:00:00",
            _schedule="Save and schedule",
        ),
    )

    assert response.status_code == 302
    tagged = Push.objects.get(audience=PushAudience.TAG)
    assert tagged.status == PushStatus.SCHEDULED


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
    assert message.startswith(f"This service account has used 4 of 4 mass sends to all followers for {day:%B %Y}")
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


def test_the_calendar_shows_console_sends_and_which_pushes_are_not_in_the_quota(admin_client):
    account = service_account()
    now = timezone.now()
    today = now.astimezone(BEIJING).date()
    PushFactory(
        account=account,
        status=PushStatus.SENT,
        scheduled_at=now,
        title="Tag tea",
        audience=PushAudience.TAG,
        audience_tag_id=7,
    )
    PushFactory(account=account, status=PushStatus.SENT, scheduled_at=now, title="All tea")
    sent_at = now - timedelta(minutes=1)
    console_send_record(account=account, sent_at=sent_at)

    response = admin_client.get(CALENDAR_URL, {"account": account.pk, "month": f"{today:%Y-%m}"})

    [cell] = [cell for week in response.context["weeks"] for cell in week if cell["date"] == today]
    assert [(push.title, push.uses_quota) for push in cell["pushes"]] == [("Tag tea", False), ("All tea", True)]
    assert cell["console_sends"] == [sent_at]
    page = response.content.decode()
    assert "not in the quota" in page
    assert f"{sent_at.astimezone(BEIJING):%H:%M} sent from WeChat's console" in page


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
