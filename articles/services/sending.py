"""Sending a push to WeChat as resumable steps, each storing its result before the next starts.

1. inline images: each local <img> in an article's content compressed for `media/uploadimg`
   and uploaded once per account and image (UploadedImage), its URL kept;
2. covers: each article's cover compressed to a thumb and uploaded as permanent material
   (`material/add_material?type=thumb`) → PushArticle.thumb_media_id;
3. draft: `draft/add` with the content's <img src> rewritten to the uploadimg URLs (the
   staff's article is never changed) → Push.draft_media_id;
4. mass send: PushBatch rows created up front, each with a stable clientmsgid; one
   `sendall` (all followers or a tag) or one `send` per batch of at most 10,000 openids;
   msg_id stored on acceptance. WeChat refuses a clientmsgid it has seen with 45065 and the
   earlier msg_id, which we take: a batch is never sent twice, whatever happens to a task;
   or, for publish-only pushes, `freepublish/submit` → Push.publish_id.

A retried, redelivered or restarted task runs push_send again and skips every step whose
result is stored. No step holds a transaction while it calls WeChat.

When a push counts as sent: a mass-send push stays `sending` until WeChat has told us how
every batch ended (MASSSENDJOBFINISH, usually within minutes: articles/services/delivery.py),
because only then do staff know whether followers received it: every batch "send success"
→ sent; some → partly sent; none → failed. A batch WeChat refused outright (e.g. 45028)
ends at once with that reason. A publish-only push is sent when PUBLISHJOBFINISH (or
freepublish/get) says the publication succeeded.

Known gap: freepublish/submit has no idempotency key at WeChat; a worker killed between
WeChat's answer and our write of publish_id would submit again on resume.
"""

import hashlib
import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from articles.draft_limits import (
    UPLOADIMG_URL_ESTIMATE,
    UPLOADIMG_URL_MIN,
    DraftContentTooLarge,
    draft_content_problem,
)
from articles.images import ImageCannotFit, image_for_thumb, image_for_uploadimg, image_format_extension
from articles.models import (
    MASS_SEND_BATCH_SIZE,
    Article,
    Push,
    PushArticle,
    PushAudience,
    PushBatch,
    PushMode,
    PushStatus,
    UploadedImage,
)
from articles.quota_windows import openid_list_allowed
from articles.services.call_limit import CallSlotsBusy, call_slot_acquire
from articles.services.delivery import (
    BATCH_REFUSED,
    push_batch_result_apply,
    push_outcome_settle_locked,
)
from articles.services.push_status import push_status_set
from articles.services.quota import quota_window_mark_spent
from articles.services.receipts import audience_openids, receipts_record
from wechat.clients import SharedTokenClient, client_for_official_account
from wechat.errors import WeChatPermanentError, WeChatRateLimited
from wechat.models import OfficialAccount
from wechat.official_account_drafts import DraftArticle, draft_add
from wechat.official_account_errcodes import wechat_error_reason
from wechat.official_account_mass_send import (
    MassSendAccepted,
    MassSendQuotaSpent,
    mass_send_preview,
    mass_send_to_all,
    mass_send_to_openids,
    mass_send_to_tag,
)
from wechat.official_account_media import inline_image_upload, thumb_add
from wechat.official_account_publishing import publication_submit

logger = logging.getLogger(__name__)

# `<img ... src="...">` in content cleaned by nh3 (attributes quoted); group 3 is the src.
IMG_SRC = re.compile(r"(<img\b[^>]*?\bsrc\s*=\s*)([\"'])(.*?)\2", re.IGNORECASE | re.DOTALL)


class ArticleImageMissing(Exception):
    """An image the article refers to is no longer in our media storage."""


def _step_stored(push: Push, step: str) -> None:
    """Progress for beat's stall check, and a log line naming the step (in the record's `send_step` too)."""
    Push.objects.filter(pk=push.pk).update(send_progress_at=timezone.now())
    logger.info("push %s: %s stored", push.pk, step, extra={"push_id": push.pk, "send_step": step})


# --- the whole send ------------------------------------------------------------------------


def push_send(*, push_id: int) -> None:
    """Run every send step not yet done for a push in `sending`; a push in any other status is left alone.

    WeChat's transient errors propagate (the task retries); permanent ones fail the push.
    """
    push = Push.objects.select_related("account").filter(pk=push_id).first()
    if push is None or push.status != PushStatus.SENDING:
        return
    refusal = push_unsendable_reason(push)
    if refusal:
        push_send_give_up(push_id=push.pk, reason=refusal)
        return
    client = client_for_official_account(push.account)
    try:
        media_id = push_draft_prepare(push=push, client=client)
        if push.mode == PushMode.PUBLISH_ONLY:
            _publication_submit(push, client, media_id)
        else:
            _batches_send(push, client, media_id)
    except WeChatPermanentError as error:
        push_send_give_up(push_id=push.pk, reason=wechat_error_reason(error))
    except (ImageCannotFit, ArticleImageMissing, DraftContentTooLarge) as error:
        push_send_give_up(push_id=push.pk, reason=str(error))


def push_unsendable_reason(push: Push) -> str:
    """Why WeChat would refuse this push whatever we upload ("" if nothing is known): checked before any step.

    A subscription account cannot send to an openid list (接口目录: 订阅号不可用), and content
    already over draft/add's limit with its images' estimated WeChat URLs will not shrink.
    """
    if (
        push.mode == PushMode.MASS_SEND
        and push.audience == PushAudience.OPENIDS
        and not openid_list_allowed(account_type=push.account.account_type)
    ):
        return _(
            "A subscription account cannot send to a list of openids (WeChat allows it to service accounts "
            "only); send to all followers or to a tag."
        )
    if not push.draft_media_id:
        for item in push.push_articles.select_related("article").order_by("position"):
            problem = article_content_as_sent_problem(item.article, measured="minimum")
            if problem:
                return problem
    return ""


def article_content_as_sent_problem(article: Article, *, measured: str = "estimate") -> str:
    """Staff's words if `article` would be over draft/add's limits once its local images have WeChat URLs.

    "estimate" (UPLOADIMG_URL_ESTIMATE a URL) is what the admin warns with when a push is built;
    "minimum" (UPLOADIMG_URL_MIN) what the send task refuses with before uploading anything, as
    only content certainly over is refused unseen. The draft step then measures exactly.
    """
    url_length = UPLOADIMG_URL_MIN if measured == "minimum" else UPLOADIMG_URL_ESTIMATE

    def as_sent(match: re.Match) -> str:
        if _media_name(match.group(3)) is None:
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}{'x' * url_length}{match.group(2)}"

    content = IMG_SRC.sub(as_sent, article.content)
    return draft_content_problem(title=article.title, content=content, measured=measured)


@transaction.atomic
def push_send_give_up(*, push_id: int, reason: str) -> None:
    """Stop sending: batches not yet accepted end refused with `reason`; the push settles from what remains.

    A push with accepted batches stays `sending` until their results arrive (then partly
    sent, or failed); one with nothing accepted fails now.
    """
    push = Push.objects.select_for_update().get(pk=push_id)
    if push.status != PushStatus.SENDING:
        return
    _batches_refuse(push, reason=reason)
    if push.mode == PushMode.PUBLISH_ONLY or not push.batches.exists():
        push_status_set(push=push, to_status=PushStatus.FAILED, reason=reason)
    else:
        push_outcome_settle_locked(push=push)


# --- steps 1–3: images and the draft ----------------------------------------------------------


def push_draft_prepare(*, push: Push, client: SharedTokenClient) -> str:
    """The draft's media_id, making it (and uploading its images) unless a matching one is stored.

    A draft made for a preview is reused by the real send while the articles are unchanged;
    once sending has begun the push keeps its draft.
    """
    push_articles = list(push.push_articles.select_related("article").order_by("position"))
    fingerprint = _articles_fingerprint(push_articles)
    push.refresh_from_db(fields=["draft_media_id", "draft_fingerprint", "publish_id"])
    begun = bool(push.publish_id) or push.batches.exists()
    if push.draft_media_id and (push.draft_fingerprint == fingerprint or begun):
        return push.draft_media_id

    inline_urls = _inline_images_upload(push, client, push_articles)
    _step_stored(push, "inline_images")
    _covers_upload(push, client, push_articles)
    _step_stored(push, "covers")

    articles = [_draft_article(item, inline_urls, single=len(push_articles) == 1) for item in push_articles]
    # As WeChat will measure it: with the uploadimg URLs in place (新建草稿, content).
    for article in articles:
        if problem := draft_content_problem(title=article.title, content=article.content):
            raise DraftContentTooLarge(problem)
    media_id = draft_add(client, articles=articles).media_id
    # A concurrent run may have stored its draft first: use that one, so both send the same.
    stored = Push.objects.filter(pk=push.pk, draft_media_id=push.draft_media_id).update(
        draft_media_id=media_id,
        draft_fingerprint=fingerprint,
        thumb_media_id=push_articles[0].thumb_media_id,
    )
    push.refresh_from_db(fields=["draft_media_id", "draft_fingerprint", "thumb_media_id"])
    if not stored:
        logger.info("push %s: another run stored its draft first; using it", push.pk)
    _step_stored(push, "draft")
    return push.draft_media_id


def _articles_fingerprint(push_articles: list[PushArticle]) -> str:
    parts = [
        f"{item.position}:{item.article_id}:{item.article.updated_at.isoformat()}:{item.article.cover.name}"
        for item in push_articles
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _media_name(src: str) -> str | None:
    """The storage name of an image served from our MEDIA_URL, or None for an image from elsewhere."""
    path = urlsplit(html.unescape(src)).path
    media_path = "/" + settings.MEDIA_URL.lstrip("/")
    if not path.startswith("/"):
        path = "/" + path
    return path[len(media_path) :] if path.startswith(media_path) else None


def _stored_bytes(name: str) -> bytes:
    try:
        with default_storage.open(name, "rb") as file:
            return file.read()
    except FileNotFoundError as error:
        raise ArticleImageMissing(
            _("The image %(name)s is missing from our media storage; upload it again.") % {"name": name}
        ) from error


def _uploaded(push: Push, *, data: bytes, kind: str, upload: Callable[[bytes], dict]) -> UploadedImage:
    """The account's earlier upload of these bytes, or a new one; concurrent runs end with one row."""
    digest = hashlib.sha256(data).hexdigest()
    found = UploadedImage.objects.filter(account=push.account, sha256=digest, kind=kind).first()
    if found is not None:
        return found
    image, _ = UploadedImage.objects.get_or_create(
        account=push.account, sha256=digest, kind=kind, defaults=upload(data)
    )
    return image


def _inline_images_upload(push: Push, client: SharedTokenClient, push_articles: list[PushArticle]) -> dict[str, str]:
    """{our storage name: WeChat URL} for every local image in the articles' content."""
    urls: dict[str, str] = {}

    def upload(data: bytes) -> dict:
        compressed, content_type = image_for_uploadimg(data)
        # WeChat reads the type from the file name's extension as well as the bytes.
        name = f"image.{image_format_extension(content_type)}"
        return {"url": inline_image_upload(client, filename=name, content=compressed, content_type=content_type).url}

    for item in push_articles:
        for match in IMG_SRC.finditer(item.article.content):
            name = _media_name(match.group(3))
            if name is None or name in urls:
                continue
            urls[name] = _uploaded(push, data=_stored_bytes(name), kind=UploadedImage.Kind.INLINE, upload=upload).url
    return urls


def _covers_upload(push: Push, client: SharedTokenClient, push_articles: list[PushArticle]) -> None:
    def upload(data: bytes) -> dict:
        thumb = thumb_add(client, jpeg=image_for_thumb(data))
        return {"media_id": thumb.media_id, "url": thumb.url}

    for item in push_articles:
        if item.thumb_media_id:
            continue
        if not item.article.cover:
            raise ImageCannotFit(_("“%(title)s” has no cover; WeChat requires one.") % {"title": item.article.title})
        image = _uploaded(
            push, data=_stored_bytes(item.article.cover.name), kind=UploadedImage.Kind.THUMB, upload=upload
        )
        item.thumb_media_id = image.media_id
        PushArticle.objects.filter(pk=item.pk).update(thumb_media_id=image.media_id)


def _draft_article(item: PushArticle, inline_urls: dict[str, str], *, single: bool) -> DraftArticle:
    article = item.article

    def rewrite(match: re.Match) -> str:
        name = _media_name(match.group(3))
        if name is None or name not in inline_urls:
            return match.group(0)  # not ours: WeChat keeps its own uploadimg URLs and drops the rest
        return f"{match.group(1)}{match.group(2)}{html.escape(inline_urls[name])}{match.group(2)}"

    return DraftArticle(
        title=article.title,
        author=article.author,
        digest=article.digest if single else "",
        content=IMG_SRC.sub(rewrite, article.content),
        content_source_url=article.content_source_url,
        thumb_media_id=item.thumb_media_id,
        need_open_comment=article.need_open_comment,
        only_fans_can_comment=article.only_fans_can_comment,
    )


# --- step 4: mass send or publication ----------------------------------------------------------


# message/mass/send takes 2 to 10,000 openids (40130 under 2).
MIN_OPENIDS = 2


@dataclass(frozen=True)
class Audience:
    is_to_all: bool = False
    tag_id: int | None = None
    openids: tuple[str, ...] | None = None  # a batch of send's touser; None for sendall


def push_openids(push: Push) -> list[str]:
    """The openid list, one a line, blanks and repeats dropped, in the order staff gave it."""
    return list(dict.fromkeys(line.strip() for line in push.audience_openids.splitlines() if line.strip()))


def batch_audiences(push: Push) -> list[Audience]:
    """One audience per batch: all followers or a tag in one sendall; openids in balanced batches of ≤ 10,000.

    Balanced (25,001 → 8,334 + 8,334 + 8,333), so no batch falls under send's minimum of 2 openids.
    """
    if push.audience == PushAudience.ALL:
        return [Audience(is_to_all=True)]
    if push.audience == PushAudience.TAG:
        return [Audience(tag_id=push.audience_tag_id)]
    openids = push_openids(push)
    count = max(1, -(-len(openids) // MASS_SEND_BATCH_SIZE))
    size, extra = divmod(len(openids), count)
    audiences, start = [], 0
    for number in range(count):
        end = start + size + (1 if number < extra else 0)
        audiences.append(Audience(openids=tuple(openids[start:end])))
        start = end
    return audiences


def batch_clientmsgid(push: Push, number: int, *, attempt: int) -> str:
    """Stable per push, attempt and batch, ≤ 32 ASCII characters ("p<id>-<created>-<attempt>-<batch>").

    The creation time keeps it unique across databases (a development database reset
    reuses push ids); the attempt lets staff retry a failed push with new ids, which
    WeChat would otherwise refuse as repeats (45065) for 24 hours.
    """
    return f"p{push.pk}-{int(push.created_at.timestamp())}-{attempt}-{number}"


@transaction.atomic
def _batches_create(push: Push, count: int) -> list[PushBatch]:
    """The push's batches, created once: a concurrent run waits on the lock and finds them."""
    Push.objects.select_for_update().get(pk=push.pk)
    if not push.batches.exists():
        attempt = push.events.filter(to_status=PushStatus.SENDING).count()
        PushBatch.objects.bulk_create(
            PushBatch(push=push, number=number, clientmsgid=batch_clientmsgid(push, number, attempt=attempt))
            for number in range(1, count + 1)
        )
    return list(push.batches.order_by("number"))


def _batches_send(push: Push, client: SharedTokenClient, media_id: str) -> None:
    if push.audience == PushAudience.OPENIDS and len(push_openids(push)) < MIN_OPENIDS:
        push_send_give_up(
            push_id=push.pk, reason=_("WeChat sends to a list of at least %(count)s openids.") % {"count": MIN_OPENIDS}
        )
        return
    audiences = batch_audiences(push)
    batches = _batches_create(push, len(audiences))
    for batch, audience in zip(batches, audiences, strict=True):
        if batch.msg_id or batch.finished_at:
            continue
        try:
            accepted = _mass_send_call(push, client, media_id, batch, audience)
        except WeChatPermanentError as error:
            reason = wechat_error_reason(error)
            if isinstance(error, MassSendQuotaSpent):
                quota_window_mark_spent(account=push.account, at=timezone.now(), reason=reason, push=push)
            push_send_give_up(push_id=push.pk, reason=reason)
            return
        # Logged before it is stored: if this process dies now, the log still names the send.
        logger.info(
            "push %s: batch %s accepted as msg_id %s",
            push.pk,
            batch.number,
            accepted.msg_id,
            extra={"push_id": push.pk, "send_step": f"batch:{batch.number}:answered"},
        )
        _batch_accepted_store(push, batch, accepted, audience)
        _step_stored(push, f"batch:{batch.number}")
        # The job's result may have arrived before we stored msg_id.
        push_batch_result_apply(batch_id=batch.pk)


@transaction.atomic
def _batch_accepted_store(push: Push, batch: PushBatch, accepted: MassSendAccepted, audience: Audience) -> None:
    """Store the msg_id and, in the same transaction (so once per batch), count it for each follower reached."""
    now = timezone.now()
    stored = PushBatch.objects.filter(pk=batch.pk, msg_id="").update(
        msg_id=accepted.msg_id, msg_data_id=accepted.msg_data_id, accepted_at=now
    )
    # Only a service account's followers are limited to four a month (群发接口和原创校验, 前言).
    if stored and push.account.account_type == OfficialAccount.AccountType.SERVICE:
        receipts_record(account=push.account, openids=audience_openids(push, openids=audience.openids), at=now)


def _mass_send_call(
    push: Push, client: SharedTokenClient, media_id: str, batch: PushBatch, audience: Audience
) -> MassSendAccepted:
    """This batch's send as WeChat accepted it: now, or earlier under the same clientmsgid."""
    try:
        call_slot_acquire(
            key=f"wechat-mass-send:{push.account.appid}",
            limit=settings.WECHAT_MASS_SEND_CALLS_PER_MINUTE,
            period_seconds=60,
            wait_seconds=settings.WECHAT_MASS_SEND_SLOT_WAIT_SECONDS,
        )
    except CallSlotsBusy as busy:
        raise WeChatRateLimited(f"our own mass-send limit: {busy}") from busy
    if audience.openids is not None:
        accepted = mass_send_to_openids(
            client, media_id=media_id, openids=audience.openids, clientmsgid=batch.clientmsgid
        )
    elif audience.is_to_all:
        accepted = mass_send_to_all(client, media_id=media_id, clientmsgid=batch.clientmsgid)
    else:
        accepted = mass_send_to_tag(client, media_id=media_id, tag_id=audience.tag_id, clientmsgid=batch.clientmsgid)
    if accepted.already_accepted:
        logger.info("push %s batch %s: WeChat already has it (45065)", push.pk, batch.number)
    return accepted


def _batches_refuse(push: Push, *, reason: str) -> None:
    push.batches.filter(msg_id="", finished_at__isnull=True).update(
        job_status=BATCH_REFUSED, job_status_reason=reason[:200], finished_at=timezone.now()
    )


def _publication_submit(push: Push, client: SharedTokenClient, media_id: str) -> None:
    push.refresh_from_db(fields=["publish_id"])
    if push.publish_id:
        return
    publish_id = publication_submit(client, media_id=media_id).publish_id
    Push.objects.filter(pk=push.pk, publish_id="").update(publish_id=publish_id)
    _step_stored(push, "publication")


# --- preview -------------------------------------------------------------------------------


def push_preview_send(*, push_id: int, recipient: str) -> None:
    """Send the push to one follower (openid) or WeChat id with message/mass/preview: no quota used.

    Makes the draft first (steps 1–3), which the real send reuses if the articles do not change.
    A recipient WeChat will not deliver to raises PreviewRecipientRefused.
    """
    push = Push.objects.select_related("account").get(pk=push_id)
    client = client_for_official_account(push.account)
    media_id = push_draft_prepare(push=push, client=client)
    mass_send_preview(client, media_id=media_id, recipient=recipient)
