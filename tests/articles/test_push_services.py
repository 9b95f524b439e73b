"""Building, scheduling and cancelling pushes through the services, and every status pair through push_transition."""

import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from articles.exceptions import (
    PushInvalid,
    PushNotCancellable,
    PushNotEditable,
    PushNotSchedulable,
    PushTransitionNotAllowed,
)
from articles.models import Push, PushAudience, PushEvent, PushMode, PushStatus
from articles.services.push_status import ALLOWED_TRANSITIONS, push_transition
from articles.services.pushes import push_cancel, push_create, push_schedule, push_update
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


def _create(account, **overrides) -> Push:
    fields = {
        "account": account,
        "title": "Autumn tea",
        "mode": PushMode.MASS_SEND,
        "audience": PushAudience.ALL,
        "article_ids": [ArticleFactory().pk],
    } | overrides
    return push_create(**fields)


def _refusal(**overrides) -> dict:
    with pytest.raises(PushInvalid) as refused:
        _create(overrides.pop("account", None) or service_account(), **overrides)
    assert not Push.objects.exists()
    return refused.value.fields


# --- building a push -------------------------------------------------------------------------


def test_a_push_keeps_its_articles_in_the_order_given(admin_user):
    articles = ArticleFactory.create_batch(8)
    order = [article.pk for article in reversed(articles)]

    push = _create(service_account(), article_ids=order, staff_user=admin_user)

    assert list(push.push_articles.order_by("position").values_list("article_id", "position")) == [
        (article_id, position) for position, article_id in enumerate(order, start=1)
    ]
    assert (push.status, push.created_by) == (PushStatus.DRAFT, admin_user)
    assert not push.events.exists()


def test_a_push_without_articles_is_refused():
    assert _refusal(article_ids=[]) == {"articles": ["Add at least one article."]}


def test_a_push_of_nine_articles_is_refused_with_wechats_limit():
    ids = [article.pk for article in ArticleFactory.create_batch(9)]

    assert _refusal(article_ids=ids) == {
        "articles": ["A push holds at most 8 articles (WeChat's limit); this one has 9."]
    }


def test_an_article_twice_in_one_push_is_refused():
    article, other = ArticleFactory(title="Green tea"), ArticleFactory()

    assert _refusal(article_ids=[article.pk, other.pk, article.pk]) == {
        "articles": ["Each article can be in a push once; repeated: “Green tea”."]
    }


def test_a_tag_audience_needs_a_tag_of_that_account():
    account = service_account()
    other_accounts_tag = FollowerTagFactory(tag_id=101)

    missing = _refusal(account=account, audience=PushAudience.TAG)
    foreign = _refusal(account=account, audience=PushAudience.TAG, audience_tag_id=other_accounts_tag.tag_id)

    assert missing == {"audience_tag_id": ["Pick the tag whose followers receive the push."]}
    assert foreign["audience_tag_id"][0].startswith(f"{account.name} has no tag with id 101.")


def test_a_tag_audience_keeps_the_tag_and_drops_any_openids():
    tag = FollowerTagFactory(tag_id=100)

    push = _create(tag.account, audience=PushAudience.TAG, audience_tag_id=100, audience_openids=openid(1))

    assert (push.audience, push.audience_tag_id, push.audience_openids) == (PushAudience.TAG, 100, "")


def test_an_openid_list_is_stored_one_a_line_without_blanks_or_repeats():
    text = f"  {openid(2)}\n\n{openid(1)}\r\n{openid(2)}\n{openid(3)}  \n"

    push = _create(service_account(), audience=PushAudience.OPENIDS, audience_openids=text, audience_tag_id=100)

    assert push.audience_openids == "\n".join([openid(2), openid(1), openid(3)])
    assert push.audience_tag_id is None


def test_an_openid_list_of_any_length_is_kept():
    text = "\n".join(openid(number) for number in range(25_001))

    push = _create(service_account(), audience=PushAudience.OPENIDS, audience_openids=text)

    assert len(push.audience_openids.splitlines()) == 25_001


def test_a_subscription_account_cannot_send_to_an_openid_list():
    """接口目录: message/mass/send (根据OpenID列表群发) is for service accounts only (订阅号不可用)."""
    account = subscription_account(name="Tea Notes")
    text = "\n".join([openid(1), openid(2)])

    refusal = _refusal(account=account, audience=PushAudience.OPENIDS, audience_openids=text)

    assert refusal == {
        "audience": [
            "Tea Notes is a subscription account: WeChat lets only service accounts send to a list of openids "
            "(message/mass/send). Send to all followers or to a tag instead."
        ]
    }


def test_a_subscription_accounts_openid_draft_from_before_the_rule_cannot_be_scheduled():
    account = subscription_account()
    push = PushFactory(account=account, audience=PushAudience.OPENIDS, audience_openids=f"{openid(1)}\n{openid(2)}")
    push.push_articles.create(article=ArticleFactory(), position=1)

    with pytest.raises(PushInvalid) as refused:
        push_schedule(push_id=push.pk, at=None, staff_user=None)

    assert list(refused.value.fields) == ["audience"]
    push.refresh_from_db()
    assert push.status == PushStatus.DRAFT


def test_malformed_openids_are_refused_by_line():
    text = "\n".join([openid(1), "not an openid", openid(2), "oShort", "o" * 29, "a,b", "x" * 28 + "!", "last bad"])

    refusal = _refusal(audience=PushAudience.OPENIDS, audience_openids=text)

    assert refusal == {
        "audience_openids": [
            "Not an openid: line 2 (“not an openid”), line 4 (“oShort”), line 5 (“" + "o" * 29 + "”), "
            "line 6 (“a,b”), line 7 (“" + "x" * 28 + "!”) and 1 more. "
            "An openid is 28 letters, digits, “_” or “-”, one a line."
        ]
    }


@pytest.mark.parametrize("text", ["", "\n  \n", openid(1), f"{openid(1)}\n{openid(1)}"])
def test_an_openid_list_of_fewer_than_two_is_refused_pointing_to_preview(text):
    refusal = _refusal(audience=PushAudience.OPENIDS, audience_openids=text)

    (message,) = refusal["audience_openids"]
    assert "WeChat's mass send needs at least 2" in message
    assert "Preview on my WeChat" in message


def test_publish_only_has_no_audience_to_pick():
    tag = FollowerTagFactory()

    refusal = _refusal(
        account=tag.account, mode=PushMode.PUBLISH_ONLY, audience=PushAudience.TAG, audience_tag_id=tag.tag_id
    )

    assert refusal["audience"][0].startswith("Publish only reaches everyone")


def test_a_push_needs_a_title():
    assert _refusal(title="   ") == {"title": ["Give the push a name staff will recognise."]}


def test_a_draft_is_updated_with_its_articles_reordered():
    first, second, third = ArticleFactory.create_batch(3)
    push = _create(service_account(), article_ids=[first.pk, second.pk])
    other_account = service_account()

    push_update(
        push_id=push.pk,
        account=other_account,
        title="Renamed",
        mode=PushMode.PUBLISH_ONLY,
        audience=PushAudience.ALL,
        article_ids=[third.pk, first.pk],
    )

    push.refresh_from_db()
    assert (push.account, push.title, push.mode) == (other_account, "Renamed", PushMode.PUBLISH_ONLY)
    assert list(push.push_articles.values_list("article_id", "position")) == [(third.pk, 1), (first.pk, 2)]


@pytest.mark.parametrize("status", [status for status in PushStatus.values if status != PushStatus.DRAFT])
def test_only_drafts_are_edited(status):
    push = draft_push(service_account())
    Push.objects.filter(pk=push.pk).update(status=status)

    with pytest.raises(PushNotEditable):
        push_update(
            push_id=push.pk,
            account=push.account,
            title="x",
            mode=push.mode,
            audience=PushAudience.ALL,
            article_ids=[ArticleFactory().pk],
        )


# --- scheduling and cancelling -----------------------------------------------------------------


def test_scheduling_a_draft_records_who_when_and_the_window(admin_user):
    push = draft_push(service_account())
    day = future_day()

    push_schedule(push_id=push.pk, at=beijing(day, 9, 30), staff_user=admin_user)

    push.refresh_from_db()
    (event,) = push.events.all()
    assert (push.status, push.scheduled_at) == (PushStatus.SCHEDULED, beijing(day, 9, 30))
    assert (event.from_status, event.to_status, event.staff_user) == (
        PushStatus.DRAFT,
        PushStatus.SCHEDULED,
        admin_user,
    )
    assert event.reason == (
        f"scheduled for {day.day} {day:%B %Y}, 09:30 (Beijing time), in the quota window {day:%B %Y}"
    )


def test_send_now_schedules_for_the_present_moment():
    push = draft_push(service_account())
    before = timezone.now()

    push_schedule(push_id=push.pk, at=None, staff_user=None)

    push.refresh_from_db()
    assert push.status == PushStatus.SCHEDULED
    assert before <= push.scheduled_at <= timezone.now()
    assert push.events.get().reason.startswith("scheduled now")


def test_a_time_that_has_passed_is_refused():
    push = draft_push(service_account())

    with pytest.raises(PushInvalid) as refused:
        push_schedule(push_id=push.pk, at=timezone.now() - timedelta(hours=1), staff_user=None)

    assert "has passed; pick a later time or send now" in refused.value.fields["scheduled_at"][0]
    push.refresh_from_db()
    assert push.status == PushStatus.DRAFT


def test_a_tag_deleted_since_the_draft_was_saved_refuses_scheduling():
    tag = FollowerTagFactory()
    push = _create(tag.account, audience=PushAudience.TAG, audience_tag_id=tag.tag_id)
    tag.delete()

    with pytest.raises(PushInvalid) as refused:
        push_schedule(push_id=push.pk, at=None, staff_user=None)

    assert "has no tag with id" in refused.value.fields["audience_tag_id"][0]


@pytest.mark.parametrize(
    "status", [PushStatus.SCHEDULED, PushStatus.SENDING, PushStatus.SENT, PushStatus.PARTLY_SENT, PushStatus.CANCELLED]
)
def test_only_drafts_and_failed_pushes_are_scheduled(status):
    push = draft_push(service_account())
    Push.objects.filter(pk=push.pk).update(status=status)

    with pytest.raises(PushNotSchedulable):
        push_schedule(push_id=push.pk, at=None, staff_user=None)

    assert not push.events.exists()


def test_a_failed_push_is_retried_and_its_failure_reason_cleared(admin_user):
    push = draft_push(service_account())
    Push.objects.filter(pk=push.pk).update(status=PushStatus.FAILED, failure_reason="-1 system busy")

    push_schedule(push_id=push.pk, at=beijing(future_day(), 10), staff_user=admin_user)

    push.refresh_from_db()
    assert (push.status, push.failure_reason) == (PushStatus.SCHEDULED, "")
    assert push.events.get().reason.startswith("retry scheduled for")


def test_a_scheduled_push_is_cancelled(admin_user):
    push = draft_push(service_account())
    push_schedule(push_id=push.pk, at=beijing(future_day(), 10), staff_user=admin_user)

    push_cancel(push_id=push.pk, staff_user=admin_user)

    push.refresh_from_db()
    assert push.status == PushStatus.CANCELLED
    assert list(push.events.values_list("to_status", "staff_user")) == [
        (PushStatus.SCHEDULED, admin_user.pk),
        (PushStatus.CANCELLED, admin_user.pk),
    ]


@pytest.mark.parametrize("status", [status for status in PushStatus.values if status != PushStatus.SCHEDULED])
def test_only_scheduled_pushes_are_cancelled(status):
    push = draft_push(service_account())
    Push.objects.filter(pk=push.pk).update(status=status)

    with pytest.raises(PushNotCancellable):
        push_cancel(push_id=push.pk, staff_user=None)

    push.refresh_from_db()
    assert push.status == status


# --- every status pair through the status service -----------------------------------------------

ALL_PAIRS = list(itertools.product(PushStatus.values, repeat=2))


def test_the_allowed_table_is_the_issues_lifecycle():
    assert {(str(from_status), str(to_status)) for from_status, to_status in ALLOWED_TRANSITIONS} == {
        ("draft", "scheduled"),
        ("scheduled", "cancelled"),
        ("scheduled", "sending"),
        ("sending", "sent"),
        ("sending", "partly_sent"),
        ("sending", "failed"),
        ("failed", "scheduled"),
    }


@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_push_transition(from_status, to_status, admin_user):
    push = PushFactory(status=from_status)

    if (from_status, to_status) in ALLOWED_TRANSITIONS:
        push_transition(push_id=push.pk, to_status=to_status, reason="because", staff_user=admin_user)
        push.refresh_from_db()
        event = PushEvent.objects.get(push=push)
        assert push.status == to_status
        assert (event.from_status, event.to_status, event.reason, event.staff_user) == (
            from_status,
            to_status,
            "because",
            admin_user,
        )
        if to_status in (PushStatus.SENT, PushStatus.PARTLY_SENT):
            assert push.sent_at is not None
        if to_status == PushStatus.FAILED:
            assert push.failure_reason == "because"
    else:
        with pytest.raises(PushTransitionNotAllowed) as refused:
            push_transition(push_id=push.pk, to_status=to_status, staff_user=admin_user)
        push.refresh_from_db()
        assert push.status == from_status
        assert not PushEvent.objects.filter(push=push).exists()
        # The statuses as staff read them: their labels.
        from_label, to_label = PushStatus(from_status).label, PushStatus(to_status).label
        assert refused.value.message == f"A push cannot go from {from_label} to {to_label}."
