"""Building and scheduling pushes: 1–8 ordered articles, an audience, a mode, a time within WeChat's quota.

Sending is not here: beat claims due `scheduled` pushes and the send task takes them from there.

An openid list of one is refused. WeChat's `message/mass/send` takes 2 to 10,000 openids
(群发接口, 根据OpenID列表群发: "touser ... 最少2个，最多10000个"; 40130 otherwise), so one openid
could only be sent by padding the list with someone who did not ask for it. Checking a push on
one phone is what “Preview on my WeChat” is for, and the refusal says so.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from articles.exceptions import (
    MassSendQuotaFull,
    PushInvalid,
    PushNotCancellable,
    PushNotEditable,
    PushNotSchedulable,
)
from articles.models import (
    MAX_ARTICLES_PER_PUSH,
    Article,
    FollowerTag,
    Push,
    PushArticle,
    PushAudience,
    PushMode,
    PushStatus,
)
from articles.quota_windows import (
    beijing_time_label,
    openid_list_allowed,
    quota_window_label,
    quota_window_start,
)
from articles.selectors import quota_next_free_window, quota_window_usage
from articles.services.push_status import push_status_set, push_transition_allowed
from articles.services.quota import push_uses_quota
from campaigns.models import Campaign
from campaigns.services import campaign_automatic_ensure
from wechat.models import OfficialAccount

# WeChat's openids are 28 characters of letters, digits, "_" and "-".
OPENID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{28}$")
MIN_OPENIDS_PER_SEND = 2
# How many bad lines a refusal names before it just counts the rest.
BAD_OPENIDS_NAMED = 5
# A time this little in the past is taken as "now": the form was filled in a moment ago.
SCHEDULE_PAST_TOLERANCE = timedelta(minutes=5)
PUSH_TITLE_MAX_LENGTH = Push._meta.get_field("title").max_length


@dataclass(frozen=True)
class PushAudienceChecked:
    """An audience as it is stored: only the part the audience kind uses, openids normalised."""

    audience: str
    tag_id: int | None
    openids: tuple[str, ...]
    # Openids given more than once; each is kept once.
    repeats_dropped: int = 0

    @property
    def openids_text(self) -> str:
        return "\n".join(self.openids)


def push_openids_parse(*, text: str) -> tuple[list[str], int]:
    """Openids one a line, in the order given, blanks and repeats dropped: (openids, repeats dropped).

    Raises PushInvalid naming the first bad lines by number.
    """
    openids: dict[str, None] = {}
    bad: list[str] = []
    given = 0
    for number, line in enumerate(text.splitlines(), start=1):
        openid = line.strip()
        if not openid:
            continue
        given += 1
        if OPENID_PATTERN.match(openid):
            openids[openid] = None
        else:
            bad.append(_("line %(number)s (“%(openid)s”)") % {"number": number, "openid": openid[:40]})
    if bad:
        named = _(", ").join(bad[:BAD_OPENIDS_NAMED])
        more = (
            _(" and %(count)s more") % {"count": len(bad) - BAD_OPENIDS_NAMED} if len(bad) > BAD_OPENIDS_NAMED else ""
        )
        raise PushInvalid(
            fields={
                "audience_openids": [
                    _("Not an openid: %(named)s%(more)s. An openid is 28 letters, digits, “_” or “-”, one a line.")
                    % {"named": named, "more": more}
                ]
            }
        )
    return list(openids), given - len(openids)


def push_articles_check(*, article_ids: Sequence[int]) -> list[int]:
    """The article ids in push order, or PushInvalid: 1 to 8 articles, each once, each existing."""
    article_ids = list(article_ids)
    if not article_ids:
        raise PushInvalid(fields={"articles": [_("Add at least one article.")]})
    if len(article_ids) > MAX_ARTICLES_PER_PUSH:
        raise PushInvalid(
            fields={
                "articles": [
                    _(
                        "A push holds at most %(max_articles_per_push)s articles (WeChat's limit); "
                        "this one has %(count)s."
                    )
                    % {"max_articles_per_push": MAX_ARTICLES_PER_PUSH, "count": len(article_ids)}
                ]
            }
        )
    repeated = sorted({article_id for article_id in article_ids if article_ids.count(article_id) > 1})
    if repeated:
        titles = ", ".join(
            f"“{title}”" for title in Article.objects.filter(pk__in=repeated).values_list("title", flat=True)
        )
        raise PushInvalid(
            fields={"articles": [_("Each article can be in a push once; repeated: %(titles)s.") % {"titles": titles}]}
        )
    found = set(Article.objects.filter(pk__in=article_ids).values_list("pk", flat=True))
    if missing := [article_id for article_id in article_ids if article_id not in found]:
        raise PushInvalid(
            fields={"articles": [_("These articles no longer exist: %(missing)s.") % {"missing": missing}]}
        )
    return article_ids


def push_audience_check(
    *,
    account: OfficialAccount,
    mode: str,
    audience: str,
    audience_tag_id: int | None = None,
    audience_openids: str = "",
) -> PushAudienceChecked:
    """Who receives the push, as stored, or PushInvalid saying which field is wrong and why."""
    if mode == PushMode.PUBLISH_ONLY:
        # freepublish/submit puts the articles on the account's page; it reaches no list of people.
        if audience != PushAudience.ALL:
            raise PushInvalid(
                fields={
                    "audience": [
                        _(
                            "Publish only reaches everyone who opens the account's page and notifies nobody: "
                            "choose All followers, or Mass send to reach a tag or a list of openids."
                        )
                    ]
                }
            )
        return PushAudienceChecked(audience=PushAudience.ALL, tag_id=None, openids=())
    if audience == PushAudience.ALL:
        return PushAudienceChecked(audience=audience, tag_id=None, openids=())
    if audience == PushAudience.TAG:
        if audience_tag_id is None:
            raise PushInvalid(fields={"audience_tag_id": [_("Pick the tag whose followers receive the push.")]})
        if not FollowerTag.objects.filter(account=account, tag_id=audience_tag_id).exists():
            raise PushInvalid(
                fields={
                    "audience_tag_id": [
                        _(
                            "%(name)s has no tag with id %(audience_tag_id)s. Pick one of its synced tags "
                            "(sync its followers if the tag is new)."
                        )
                        % {"name": account.name, "audience_tag_id": audience_tag_id}
                    ]
                }
            )
        return PushAudienceChecked(audience=audience, tag_id=audience_tag_id, openids=())
    if audience == PushAudience.OPENIDS:
        if not openid_list_allowed(account_type=account.account_type):
            raise PushInvalid(
                fields={
                    "audience": [
                        _(
                            "%(account)s is a subscription account: WeChat lets only service accounts send to "
                            "a list of openids (message/mass/send). Send to all followers or to a tag instead."
                        )
                        % {"account": account.name}
                    ]
                }
            )
        openids, repeats = push_openids_parse(text=audience_openids)
        if len(openids) < MIN_OPENIDS_PER_SEND:
            given = "no openid" if not openids else "one openid"
            raise PushInvalid(
                fields={
                    "audience_openids": [
                        _(
                            "This list has %(given)s; WeChat's mass send needs at least %(min_openids_per_send)s. "
                            "To check the push on one phone, use “Preview on my WeChat”; "
                            "to reach one follower, tag them and send to the tag."
                        )
                        % {"given": given, "min_openids_per_send": MIN_OPENIDS_PER_SEND}
                    ]
                }
            )
        return PushAudienceChecked(audience=audience, tag_id=None, openids=tuple(openids), repeats_dropped=repeats)
    raise PushInvalid(fields={"audience": [_("Unknown audience “%(audience)s”.") % {"audience": audience}]})


def _push_fields_check(*, title: str, mode: str) -> str:
    title = title.strip()
    if not title:
        raise PushInvalid(fields={"title": [_("Give the push a name staff will recognise.")]})
    if len(title) > PUSH_TITLE_MAX_LENGTH:
        raise PushInvalid(
            fields={
                "title": [
                    _("At most %(push_title_max_length)s characters.")
                    % {"push_title_max_length": PUSH_TITLE_MAX_LENGTH}
                ]
            }
        )
    if mode not in PushMode.values:
        raise PushInvalid(fields={"mode": [_("Unknown mode “%(mode)s”.") % {"mode": mode}]})
    return title


def _push_articles_replace(*, push: Push, article_ids: list[int]) -> None:
    # Only drafts change, and a draft has no article URLs yet: replacing the rows loses nothing.
    push.push_articles.all().delete()
    PushArticle.objects.bulk_create(
        PushArticle(push=push, article_id=article_id, position=position)
        for position, article_id in enumerate(article_ids, start=1)
    )


@transaction.atomic
def push_create(
    *,
    account: OfficialAccount,
    title: str,
    mode: str,
    audience: str,
    article_ids: Sequence[int],
    audience_tag_id: int | None = None,
    audience_openids: str = "",
    scheduled_at: datetime | None = None,
    staff_user: AbstractBaseUser | None = None,
) -> Push:
    """A draft push of 1–8 articles in the given order; `scheduled_at` is only the intended time until scheduled."""
    title = _push_fields_check(title=title, mode=mode)
    article_ids = push_articles_check(article_ids=article_ids)
    checked = push_audience_check(
        account=account,
        mode=mode,
        audience=audience,
        audience_tag_id=audience_tag_id,
        audience_openids=audience_openids,
    )
    push = Push.objects.create(
        account=account,
        title=title,
        mode=mode,
        audience=checked.audience,
        audience_tag_id=checked.tag_id,
        audience_openids=checked.openids_text,
        scheduled_at=scheduled_at,
        created_by=staff_user,
    )
    _push_articles_replace(push=push, article_ids=article_ids)
    _push_campaign_ensure(push)
    return push


def _push_campaign_ensure(push: Push) -> None:
    """The push's campaign (code p<id>), named after it; pushes made before campaigns get theirs when scheduled."""
    campaign = campaign_automatic_ensure(channel=Campaign.Channel.PUSH, number=push.pk, name=push.title)
    if push.campaign_id != campaign.pk:
        push.campaign = campaign
        push.save(update_fields=["campaign"])


@transaction.atomic
def push_update(
    *,
    push_id: int,
    account: OfficialAccount,
    title: str,
    mode: str,
    audience: str,
    article_ids: Sequence[int],
    audience_tag_id: int | None = None,
    audience_openids: str = "",
    scheduled_at: datetime | None = None,
) -> Push:
    """Change a draft: its account, name, mode, audience, intended time and articles (in order)."""
    # Account, then push, as push_schedule takes them: the admin's “Save and schedule” runs both in one
    # transaction, and the opposite order could deadlock with someone scheduling the same push.
    _, push = _account_and_push_locked(push_id)
    if push.status != PushStatus.DRAFT:
        raise PushNotEditable(status=push.get_status_display())
    title = _push_fields_check(title=title, mode=mode)
    article_ids = push_articles_check(article_ids=article_ids)
    checked = push_audience_check(
        account=account,
        mode=mode,
        audience=audience,
        audience_tag_id=audience_tag_id,
        audience_openids=audience_openids,
    )
    push.account = account
    push.title = title
    push.mode = mode
    push.audience = checked.audience
    push.audience_tag_id = checked.tag_id
    push.audience_openids = checked.openids_text
    push.scheduled_at = scheduled_at
    push.save(
        update_fields=["account", "title", "mode", "audience", "audience_tag_id", "audience_openids", "scheduled_at"]
    )
    _push_articles_replace(push=push, article_ids=article_ids)
    _push_campaign_ensure(push)
    return push


def push_quota_check(*, account: OfficialAccount, at: datetime, exclude_push_id: int | None = None) -> None:
    """Raise MassSendQuotaFull if the window holding `at` has no mass send left, naming the next free slot.

    Read-only: push_schedule calls it under the account's lock, and the admin before saving to show the
    refusal beside the time field.
    """
    usage = quota_window_usage(account=account, at=at, exclude_push_id=exclude_push_id)
    if usage.remaining:
        return
    kind = OfficialAccount.AccountType(account.account_type).name.lower()
    if usage.spent_at_wechat:
        reason = (
            f"WeChat reported this {kind} account's mass sends for {usage.label} (Beijing time) as used up "
            "(45028: spent outside this admin, e.g. in WeChat's own console)."
        )
    elif account.account_type == OfficialAccount.AccountType.SERVICE:
        reason = _(
            "This service account has used %(used)d of %(limit)d mass sends to all followers for %(window)s "
            "(Beijing time), counting those scheduled and those made in WeChat's console. Sends to a tag "
            "or a list of openids are not limited so."
        ) % {"used": usage.used, "limit": usage.limit, "window": usage.label}
    else:
        noun = "mass send" if usage.limit == 1 else "mass sends"
        reason = (
            f"This {kind} account has used {usage.used} of {usage.limit} {noun} "
            f"for {usage.label} (Beijing time), counting those scheduled."
        )
    free = quota_next_free_window(account=account, after=usage.start, exclude_push_id=exclude_push_id)
    if free is None:
        raise MassSendQuotaFull(
            _("%(reason)s No window with room was found ahead.") % {"reason": reason}, next_free_slot=None
        )
    raise MassSendQuotaFull(
        _("%(reason)s The next free slot is %(beijing_time_label)s (Beijing time).")
        % {"reason": reason, "beijing_time_label": beijing_time_label(free.starts_at)},
        next_free_slot=free.starts_at,
    )


def push_send_time(*, at: datetime | None, now: datetime) -> datetime:
    """When a push scheduled for `at` (None: now) goes out; a time that has passed is refused."""
    if at is None:
        return now
    if at < now - SCHEDULE_PAST_TOLERANCE:
        raise PushInvalid(
            fields={
                "scheduled_at": [
                    _("%(beijing_time_label)s (Beijing time) has passed; pick a later time or send now.")
                    % {"beijing_time_label": beijing_time_label(at)}
                ]
            }
        )
    return max(at, now)


def _push_sendable_check(push: Push) -> None:
    """What was true when the draft was saved may not be now (a tag deleted at WeChat, an article removed)."""
    push_articles_check(article_ids=list(push.push_articles.order_by("position").values_list("article_id", flat=True)))
    push_audience_check(
        account=push.account,
        mode=push.mode,
        audience=push.audience,
        audience_tag_id=push.audience_tag_id,
        audience_openids=push.audience_openids,
    )


def _account_and_push_locked(push_id: int) -> tuple[OfficialAccount, Push]:
    """Lock the push's account, then the push: scheduling one account's pushes happens one at a time.

    FOR NO KEY UPDATE on the account, so rows that merely reference it (a PushEvent, a
    MassSendQuotaSpent written by the send task) are not held up by it, nor it by them.
    """
    while True:
        account_id = Push.objects.values_list("account_id", flat=True).get(pk=push_id)
        account = OfficialAccount.objects.select_for_update(no_key=True).get(pk=account_id)
        push = Push.objects.select_for_update(of=("self",)).select_related("account").get(pk=push_id)
        if push.account_id == account.pk:
            return account, push
        # The draft moved to another account between the two reads; the lock taken is the wrong one.


@transaction.atomic
def push_schedule(*, push_id: int, at: datetime | None, staff_user: AbstractBaseUser | None) -> Push:
    """Schedule a draft (or retry a failed push) for `at`, or now when `at` is None.

    A mass send must fit WeChat's quota for the window (Beijing day or month) holding that time:
    counted under the account's row lock, so two staff taking the last slot at once cannot both
    have it. Publish-only pushes use no quota.
    """
    now = timezone.now()
    account, push = _account_and_push_locked(push_id)
    if not push_transition_allowed(from_status=push.status, to_status=PushStatus.SCHEDULED):
        # The status service would refuse too; this says it in staff's words first.
        raise PushNotSchedulable(status=push.get_status_display())
    send_time = push_send_time(at=at, now=now)
    _push_sendable_check(push)
    uses_quota = push_uses_quota(push)
    if uses_quota:
        push_quota_check(account=account, at=send_time, exclude_push_id=push.pk)
    retry = push.status == PushStatus.FAILED
    when = "now" if send_time == now else f"for {beijing_time_label(send_time)} (Beijing time)"
    reason = f"{'retry ' if retry else ''}scheduled {when}"
    if uses_quota:
        window = quota_window_label(
            account_type=account.account_type,
            start=quota_window_start(account_type=account.account_type, at=send_time),
        )
        reason += f", in the quota window {window}"
    push_status_set(
        push=push,
        to_status=PushStatus.SCHEDULED,
        reason=reason,
        staff_user=staff_user,
        extra_fields={"scheduled_at": send_time, "failure_reason": ""},
    )
    _push_campaign_ensure(push)
    return push


@transaction.atomic
def push_cancel(*, push_id: int, staff_user: AbstractBaseUser | None, reason: str = "") -> Push:
    """Cancel a scheduled push before beat claims it; once sending has begun it is too late."""
    push = Push.objects.select_for_update().get(pk=push_id)
    if not push_transition_allowed(from_status=push.status, to_status=PushStatus.CANCELLED):
        raise PushNotCancellable(status=push.get_status_display())
    push_status_set(
        push=push, to_status=PushStatus.CANCELLED, reason=reason or "cancelled by staff", staff_user=staff_user
    )
    return push
