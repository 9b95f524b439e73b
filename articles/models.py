from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThan, LessThan
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from config.status_machine import StatusEvent
from wechat.models import OfficialAccount

# WeChat's draft/add limits. Content under 20,000 characters also stays under its
# 1 MB limit: even four UTF-8 bytes a character is 80 KB.
WECHAT_TITLE_MAX_LENGTH = 32
WECHAT_AUTHOR_MAX_LENGTH = 16
WECHAT_DIGEST_MAX_LENGTH = 128
WECHAT_CONTENT_LENGTH_LIMIT = 20_000
WECHAT_SOURCE_URL_MAX_LENGTH = 1024


class Article(models.Model):
    """One article as WeChat's draft/add takes it; a push later groups 1–8 of them."""

    title = models.CharField(
        max_length=WECHAT_TITLE_MAX_LENGTH,
        error_messages={
            "max_length": _("WeChat allows at most %(limit_value)d characters in a title; this one has %(show_value)d.")
        },
        verbose_name=_("title"),
    )
    author = models.CharField(
        max_length=WECHAT_AUTHOR_MAX_LENGTH,
        blank=True,
        error_messages={
            "max_length": _("WeChat allows at most %(limit_value)d characters for the author; this has %(show_value)d.")
        },
        verbose_name=_("author"),
    )
    digest = models.CharField(
        max_length=WECHAT_DIGEST_MAX_LENGTH,
        blank=True,
        help_text=_("Summary shown under the title. WeChat uses it only when the push has this one article."),
        error_messages={
            "max_length": _(
                "WeChat allows at most %(limit_value)d characters in a digest; this one has %(show_value)d."
            )
        },
        verbose_name=_("digest"),
    )
    content = models.TextField(
        help_text=_("HTML. WeChat strips scripts and replaces images with its own copies when the article is sent."),
        validators=[
            MaxLengthValidator(
                WECHAT_CONTENT_LENGTH_LIMIT - 1,
                # Django's validator fills %(show_value)d; the limit goes in now, lazily, in the reader's language.
                message=format_lazy(
                    _("WeChat needs content shorter than {limit} characters; this has %(show_value)d."),
                    limit=f"{WECHAT_CONTENT_LENGTH_LIMIT:,}",
                ),
            )
        ],
        verbose_name=_("content"),
    )
    content_source_url = models.URLField(
        _("read more link"),
        max_length=WECHAT_SOURCE_URL_MAX_LENGTH,
        blank=True,
        help_text=_("Opened by “Read more” at the bottom of the article."),
    )
    cover = models.ImageField(
        upload_to="articles/covers/",
        help_text=_(
            "JPG or PNG, ideally 900×383. WeChat requires one; it is compressed to fit WeChat's limit when sent."
        ),
        verbose_name=_("cover"),
    )
    # Given when the article is first saved (code a<id>): its Mini Program cards and links carry it.
    campaign = models.OneToOneField(
        "campaigns.Campaign",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="article",
        verbose_name=_("campaign"),
    )
    need_open_comment = models.BooleanField(_("open comments"), default=False)
    only_fans_can_comment = models.BooleanField(_("only followers can comment"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="articles",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        indexes = [models.Index(fields=["-created_at"], name="articles_article_recent_idx")]
        constraints = [
            # Rows written outside forms (imports, shells, services) must still be sendable.
            models.CheckConstraint(
                condition=~models.Q(title=""),
                name="articles_article_title_not_blank",
                violation_error_message="An article needs a title.",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    GreaterThan(Length("content"), 0),
                    LessThan(Length("content"), WECHAT_CONTENT_LENGTH_LIMIT),
                ),
                name="articles_article_content_within_wechat_limit",
                violation_error_message=f"Content must be 1 to {WECHAT_CONTENT_LENGTH_LIMIT - 1:,} characters.",
            ),
        ]

    def __str__(self) -> str:
        return self.title


MAX_ARTICLES_PER_PUSH = 8
# message/mass/send takes at most 10,000 openids a call.
MASS_SEND_BATCH_SIZE = 10_000


class FollowerTag(models.Model):
    """A tag as WeChat's tags/get lists it for one account; staff pick one as a push's audience."""

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.CASCADE, related_name="follower_tags", verbose_name=_("account")
    )
    tag_id = models.PositiveIntegerField(_("WeChat tag id"))
    name = models.CharField(max_length=30, verbose_name=_("name"))
    follower_count = models.PositiveIntegerField(default=0, verbose_name=_("follower count"))

    class Meta:
        ordering = ["account", "name"]
        verbose_name = _("follower tag")
        verbose_name_plural = _("follower tags")
        constraints = [models.UniqueConstraint(fields=["account", "tag_id"], name="articles_followertag_one_per_id")]

    def __str__(self) -> str:
        return self.name


class Follower(models.Model):
    """Someone following an account, kept current by subscribe/unsubscribe events and the daily sync."""

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.CASCADE, related_name="followers", verbose_name=_("account")
    )
    openid = models.CharField(max_length=64, verbose_name=_("openid"))
    nickname = models.CharField(max_length=100, blank=True, verbose_name=_("nickname"))
    tag_ids = models.JSONField(
        default=list, blank=True, help_text=_("WeChat tag ids, as user/info gives them."), verbose_name=_("tag ids")
    )
    is_subscribed = models.BooleanField(default=True, verbose_name=_("is subscribed"))
    subscribed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("subscribed at"))
    unsubscribed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("unsubscribed at"))
    # When a sync last wrote the row (new, or its values changed). On PostgreSQL a sync that finds the
    # row as WeChat gives it leaves it alone, synced_at included (articles/services/follower_store.py).
    synced_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last changed by a sync"))

    class Meta:
        ordering = ["account", "-subscribed_at", "id"]
        verbose_name = _("follower")
        verbose_name_plural = _("followers")
        constraints = [models.UniqueConstraint(fields=["account", "openid"], name="articles_follower_one_per_openid")]

    def __str__(self) -> str:
        return self.nickname or self.openid


class FollowedAccount(OfficialAccount):
    """An Official Account seen from its followers: the admin lists these and syncs them from WeChat.

    A proxy, so wechat/ (which knows nothing of followers) keeps its own admin and permissions.
    """

    class Meta:
        proxy = True
        verbose_name = _("followed account")
        verbose_name_plural = _("followers by account")
        permissions = [("sync_followedaccount", "Can sync an account's followers from WeChat")]


class FollowerSyncRun(models.Model):
    """One sync of an account's followers from WeChat: what it wrote, or why it failed."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.CASCADE, related_name="follower_syncs", verbose_name=_("account")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING, verbose_name=_("status"))
    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    followers = models.PositiveIntegerField(
        default=0, help_text=_("Subscribed followers written."), verbose_name=_("followers")
    )
    unsubscribed = models.PositiveIntegerField(
        default=0, help_text=_("Marked unsubscribed: WeChat no longer lists them."), verbose_name=_("unsubscribed")
    )
    tags = models.PositiveIntegerField(default=0, verbose_name=_("tags"))
    error = models.CharField(max_length=300, blank=True, verbose_name=_("error"))

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("follower sync")
        verbose_name_plural = _("follower syncs")
        indexes = [models.Index(fields=["account", "-started_at"], name="articles_followersync_recent")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class FollowerSyncRunEvent(StatusEvent):
    """One status change of a follower sync, appended by its status service and never edited."""

    subject_field = "run"

    run = models.ForeignKey(FollowerSyncRun, on_delete=models.CASCADE, related_name="events", verbose_name=_("run"))
    from_status = models.CharField(
        max_length=16, choices=FollowerSyncRun.Status.choices, blank=True, verbose_name=_("from status")
    )
    to_status = models.CharField(max_length=16, choices=FollowerSyncRun.Status.choices, verbose_name=_("to status"))

    class Meta(StatusEvent.Meta):
        verbose_name = _("follower sync event")
        verbose_name_plural = _("follower sync events")


class PushStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    SCHEDULED = "scheduled", _("scheduled")
    SENDING = "sending", _("sending")
    SENT = "sent", _("sent")
    PARTLY_SENT = "partly_sent", _("partly sent")
    FAILED = "failed", _("failed")
    CANCELLED = "cancelled", _("cancelled")


class PushMode(models.TextChoices):
    MASS_SEND = "mass_send", _("Mass send (notifies followers, uses quota)")
    PUBLISH_ONLY = "publish_only", _("Publish only (no notification, no quota)")


class PushAudience(models.TextChoices):
    ALL = "all", _("All followers")
    TAG = "tag", _("Followers with a tag")
    OPENIDS = "openids", _("A list of openids")


class Push(models.Model):
    """1–8 ordered articles sent to one account's followers at a time: the unit of WeChat's mass-send quota."""

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.PROTECT, related_name="pushes", verbose_name=_("account")
    )
    title = models.CharField(
        max_length=100, help_text=_("For staff only; followers see the articles' titles."), verbose_name=_("title")
    )
    mode = models.CharField(max_length=16, choices=PushMode.choices, default=PushMode.MASS_SEND, verbose_name=_("mode"))
    audience = models.CharField(
        max_length=16, choices=PushAudience.choices, default=PushAudience.ALL, verbose_name=_("audience")
    )
    audience_tag_id = models.PositiveIntegerField(_("audience tag id"), null=True, blank=True)
    audience_openids = models.TextField(
        blank=True, help_text=_("One openid a line."), verbose_name=_("audience openids")
    )
    status = models.CharField(
        max_length=16, choices=PushStatus.choices, default=PushStatus.DRAFT, editable=False, verbose_name=_("status")
    )
    scheduled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("scheduled at"))
    failure_reason = models.CharField(max_length=300, blank=True, editable=False, verbose_name=_("failure reason"))
    # Given when the push is created or scheduled (code p<id>), for reports of what the push earned.
    campaign = models.OneToOneField(
        "campaigns.Campaign",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="push",
        verbose_name=_("campaign"),
    )

    # What each send step stored, so a retried or restarted task resumes after it (see articles/sending.py).
    thumb_media_id = models.CharField(max_length=128, blank=True, editable=False, verbose_name=_("thumb media id"))
    draft_media_id = models.CharField(max_length=128, blank=True, editable=False, verbose_name=_("draft media id"))
    publish_id = models.CharField(max_length=64, blank=True, editable=False, verbose_name=_("publish id"))
    # Which articles (and their versions) the stored draft was made from: a preview's draft is
    # reused by the real send only while it still matches (articles/services/sending.py).
    draft_fingerprint = models.CharField(max_length=64, blank=True, editable=False, verbose_name=_("draft fingerprint"))
    # Each send step touches this; beat resumes a push in `sending` whose progress has stalled.
    send_progress_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("send progress at"))

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="pushes",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("sent at"))

    class Meta:
        ordering = ["-scheduled_at", "-created_at"]
        verbose_name = _("push")
        verbose_name_plural = _("pushes")
        permissions = [("send_push", "Can schedule, cancel and preview pushes")]
        indexes = [
            # Beat's claim: scheduled pushes by due time.
            models.Index(fields=["scheduled_at"], condition=models.Q(status="scheduled"), name="articles_push_due"),
            models.Index(fields=["account", "scheduled_at"], name="articles_push_account_time"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(audience="tag") | models.Q(audience_tag_id__isnull=False),
                name="articles_push_tag_audience_has_tag",
                violation_error_message="Pick the tag whose followers receive the push.",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class PushArticle(models.Model):
    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="push_articles", verbose_name=_("push"))
    article = models.ForeignKey(
        Article, on_delete=models.PROTECT, related_name="push_articles", verbose_name=_("article")
    )
    position = models.PositiveSmallIntegerField(verbose_name=_("position"))
    # Filled from MASSSENDJOBFINISH's ArticleUrlResult or PUBLISHJOBFINISH.
    article_url = models.URLField(max_length=500, blank=True, editable=False, verbose_name=_("article url"))
    # This article's cover, uploaded as a permanent thumb for draft/add.
    thumb_media_id = models.CharField(max_length=128, blank=True, editable=False, verbose_name=_("thumb media id"))

    class Meta:
        ordering = ["push", "position"]
        verbose_name = _("article in push")
        verbose_name_plural = _("articles in push")
        constraints = [
            models.UniqueConstraint(fields=["push", "position"], name="articles_pusharticle_one_per_position"),
            models.UniqueConstraint(fields=["push", "article"], name="articles_pusharticle_article_once"),
            models.CheckConstraint(
                condition=models.Q(position__gte=1, position__lte=MAX_ARTICLES_PER_PUSH),
                name="articles_pusharticle_position_1_to_8",
                violation_error_message=f"A push holds 1 to {MAX_ARTICLES_PER_PUSH} articles.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.article_id}"


class PushBatch(models.Model):
    """One mass-send call: the whole audience for sendall, up to 10,000 openids for send.

    `clientmsgid` is derived from the push and batch number, so WeChat refuses a second send of
    the same batch (45065) whatever happens to our task.
    """

    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="batches", verbose_name=_("push"))
    number = models.PositiveIntegerField(verbose_name=_("number"))
    clientmsgid = models.CharField(max_length=32, unique=True, verbose_name=_("clientmsgid"))
    msg_id = models.CharField(max_length=32, blank=True, verbose_name=_("msg id"))
    msg_data_id = models.CharField(max_length=32, blank=True, verbose_name=_("msg data id"))
    accepted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("accepted at"))
    # From MASSSENDJOBFINISH.
    job_status = models.CharField(max_length=64, blank=True, verbose_name=_("job status"))
    job_status_reason = models.CharField(max_length=200, blank=True, verbose_name=_("job status reason"))
    total_count = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("total count"))
    filter_count = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("filter count"))
    sent_count = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("sent count"))
    error_count = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("error count"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        ordering = ["push", "number"]
        verbose_name = _("send batch")
        verbose_name_plural = _("send batches")
        constraints = [models.UniqueConstraint(fields=["push", "number"], name="articles_pushbatch_one_per_number")]
        indexes = [models.Index(fields=["msg_id"], name="articles_pushbatch_msg_id")]

    def __str__(self) -> str:
        return f"{self.push_id} #{self.number}"


class PushEvent(StatusEvent):
    """One status change of a push, appended by the status service and never edited."""

    subject_field = "push"

    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="events", verbose_name=_("push"))
    from_status = models.CharField(max_length=16, choices=PushStatus.choices, blank=True, verbose_name=_("from status"))
    to_status = models.CharField(max_length=16, choices=PushStatus.choices, verbose_name=_("to status"))

    class Meta(StatusEvent.Meta):
        verbose_name = _("push event")
        verbose_name_plural = _("push events")


class MassSendQuotaSpent(models.Model):
    """WeChat answered 45028 (no mass-send quota left) in this window: quota was spent outside our product."""

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.CASCADE, related_name="quota_spent", verbose_name=_("account")
    )
    # The window's first Beijing date: the day (subscription) or the first of the month (service).
    window_start = models.DateField(verbose_name=_("window start"))
    push = models.ForeignKey(
        Push, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("push")
    )
    reason = models.CharField(max_length=200, verbose_name=_("reason"))
    at = models.DateTimeField(auto_now_add=True, verbose_name=_("at"))

    class Meta:
        ordering = ["-window_start"]
        verbose_name = _("mass-send window spent at WeChat")
        verbose_name_plural = _("mass-send windows spent at WeChat")
        constraints = [
            models.UniqueConstraint(fields=["account", "window_start"], name="articles_quotaspent_one_per_window")
        ]

    def __str__(self) -> str:
        return f"{self.account_id} {self.window_start}"


class UploadedImage(models.Model):
    """An image already uploaded to one account at WeChat, so the same bytes are never uploaded twice.

    Keyed by the SHA-256 of our stored file (before compression): an inline image's
    `media/uploadimg` URL, or a cover's permanent thumb media_id.
    """

    class Kind(models.TextChoices):
        INLINE = "inline", _("inline image (uploadimg URL)")
        THUMB = "thumb", _("cover (permanent thumb)")

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.CASCADE, related_name="uploaded_images", verbose_name=_("account")
    )
    sha256 = models.CharField(max_length=64, verbose_name=_("sha256"))
    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("kind"))
    url = models.URLField(max_length=500, blank=True, verbose_name=_("url"))
    media_id = models.CharField(max_length=128, blank=True, verbose_name=_("media id"))
    uploaded_at = models.DateTimeField(auto_now_add=True, verbose_name=_("uploaded at"))

    class Meta:
        verbose_name = _("image uploaded to WeChat")
        verbose_name_plural = _("images uploaded to WeChat")
        constraints = [
            models.UniqueConstraint(fields=["account", "sha256", "kind"], name="articles_uploadedimage_once_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.sha256[:12]}"


class MassSendJobFinished(models.Model):
    """A MASSSENDJOBFINISH event as WeChat pushed it, kept once per (account, msg_id).

    The event can arrive before the send's msg_id is stored (a worker killed between
    WeChat's answer and our write): it is applied to the batch whenever both are known.
    """

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.CASCADE, related_name="+", verbose_name=_("account")
    )
    msg_id = models.CharField(max_length=32, verbose_name=_("msg id"))
    message = models.JSONField(verbose_name=_("message"))
    received_at = models.DateTimeField(auto_now_add=True, verbose_name=_("received at"))

    class Meta:
        verbose_name = _("mass-send job result")
        verbose_name_plural = _("mass-send job results")
        constraints = [models.UniqueConstraint(fields=["account", "msg_id"], name="articles_massjobfinished_once")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.msg_id}"


class ConsoleMassSend(models.Model):
    """A mass send staff made in WeChat's own console (mp.weixin.qq.com), recorded here because it counts.

    群发接口和原创校验 (前言): console sends count in the account's quota: a subscription
    account's one a Beijing day, a service account's four sends to all followers a month.
    Taken as sent to all followers.
    """

    account = models.ForeignKey(
        "wechat.OfficialAccount", on_delete=models.CASCADE, related_name="console_mass_sends", verbose_name=_("account")
    )
    sent_at = models.DateTimeField(_("sent at (Beijing time)"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-sent_at"]
        verbose_name = _("mass send made in WeChat's console")
        verbose_name_plural = _("mass sends made in WeChat's console")
        indexes = [models.Index(fields=["account", "sent_at"], name="articles_consolesend_window")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.sent_at:%Y-%m-%d %H:%M}"


class FollowerMonthlyReceipts(models.Model):
    """How many of our mass sends WeChat accepted for one follower in one Beijing month.

    WeChat delivers at most four a month to a follower and drops the rest for them (群发接口和
    原创校验, 前言); the push page warns from these counts before scheduling. Counted when a
    batch is accepted, so a send that later fails still counts: the warning errs on the safe side.
    """

    account = models.ForeignKey("wechat.OfficialAccount", on_delete=models.CASCADE, related_name="+")
    openid = models.CharField(max_length=64)
    # The month's first Beijing date.
    month = models.DateField()
    count = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("follower's mass sends in a month")
        verbose_name_plural = _("followers' mass sends by month")
        constraints = [
            models.UniqueConstraint(fields=["account", "openid", "month"], name="articles_receipts_one_per_month")
        ]

    def __str__(self) -> str:
        return f"{self.openid} {self.month:%Y-%m}: {self.count}"


# WeChat's statistics live in their own module; imported here so that Django counts them as this app's models.
from articles.statistics_models import (  # noqa: E402, F401
    ArticleDailyStatistics,
    ArticleTotalStatistics,
    FollowerDailyStatistics,
    FollowerSource,
    FollowerSourceDailyStatistics,
    StatisticsDay,
)
