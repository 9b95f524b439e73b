from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThan, LessThan

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
            "max_length": "WeChat allows at most %(limit_value)d characters in a title; this one has %(show_value)d."
        },
    )
    author = models.CharField(
        max_length=WECHAT_AUTHOR_MAX_LENGTH,
        blank=True,
        error_messages={
            "max_length": "WeChat allows at most %(limit_value)d characters for the author; this has %(show_value)d."
        },
    )
    digest = models.CharField(
        max_length=WECHAT_DIGEST_MAX_LENGTH,
        blank=True,
        help_text="Summary shown under the title. WeChat uses it only when the push has this one article.",
        error_messages={
            "max_length": "WeChat allows at most %(limit_value)d characters in a digest; this one has %(show_value)d."
        },
    )
    content = models.TextField(
        help_text="HTML. WeChat strips scripts and replaces images with its own copies when the article is sent.",
        validators=[
            MaxLengthValidator(
                WECHAT_CONTENT_LENGTH_LIMIT - 1,
                message=f"WeChat needs content shorter than {WECHAT_CONTENT_LENGTH_LIMIT:,} characters; "
                "this has %(show_value)d.",
            )
        ],
    )
    content_source_url = models.URLField(
        "read more link",
        max_length=WECHAT_SOURCE_URL_MAX_LENGTH,
        blank=True,
        help_text="Opened by “Read more” at the bottom of the article.",
    )
    cover = models.ImageField(
        upload_to="articles/covers/",
        help_text="JPG or PNG, ideally 900×383. WeChat requires one; it is compressed to fit WeChat's limit when sent.",
    )
    need_open_comment = models.BooleanField("open comments", default=False)
    only_fans_can_comment = models.BooleanField("only followers can comment", default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="articles",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "article"
        verbose_name_plural = "articles"
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

    account = models.ForeignKey("wechat.OfficialAccount", on_delete=models.CASCADE, related_name="follower_tags")
    tag_id = models.PositiveIntegerField("WeChat tag id")
    name = models.CharField(max_length=30)
    follower_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["account", "name"]
        verbose_name = "follower tag"
        verbose_name_plural = "follower tags"
        constraints = [models.UniqueConstraint(fields=["account", "tag_id"], name="articles_followertag_one_per_id")]

    def __str__(self) -> str:
        return self.name


class Follower(models.Model):
    """Someone following an account, kept current by subscribe/unsubscribe events and the daily sync."""

    account = models.ForeignKey("wechat.OfficialAccount", on_delete=models.CASCADE, related_name="followers")
    openid = models.CharField(max_length=64)
    nickname = models.CharField(max_length=100, blank=True)
    tag_ids = models.JSONField(default=list, blank=True, help_text="WeChat tag ids, as user/info gives them.")
    is_subscribed = models.BooleanField(default=True)
    subscribed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["account", "-subscribed_at", "id"]
        verbose_name = "follower"
        verbose_name_plural = "followers"
        constraints = [models.UniqueConstraint(fields=["account", "openid"], name="articles_follower_one_per_openid")]

    def __str__(self) -> str:
        return self.nickname or self.openid


class FollowedAccount(OfficialAccount):
    """An Official Account seen from its followers: the admin lists these and syncs them from WeChat.

    A proxy, so wechat/ (which knows nothing of followers) keeps its own admin and permissions.
    """

    class Meta:
        proxy = True
        verbose_name = "followed account"
        verbose_name_plural = "followers by account"
        permissions = [("sync_followedaccount", "Can sync an account's followers from WeChat")]


class FollowerSyncRun(models.Model):
    """One sync of an account's followers from WeChat: what it wrote, or why it failed."""

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"

    account = models.ForeignKey("wechat.OfficialAccount", on_delete=models.CASCADE, related_name="follower_syncs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    followers = models.PositiveIntegerField(default=0, help_text="Subscribed followers written.")
    unsubscribed = models.PositiveIntegerField(default=0, help_text="Marked unsubscribed: WeChat no longer lists them.")
    tags = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "follower sync"
        verbose_name_plural = "follower syncs"
        indexes = [models.Index(fields=["account", "-started_at"], name="articles_followersync_recent")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class FollowerSyncRunEvent(StatusEvent):
    """One status change of a follower sync, appended by its status service and never edited."""

    subject_field = "run"

    run = models.ForeignKey(FollowerSyncRun, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=FollowerSyncRun.Status.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=FollowerSyncRun.Status.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = "follower sync event"
        verbose_name_plural = "follower sync events"


class PushStatus(models.TextChoices):
    DRAFT = "draft", "draft"
    SCHEDULED = "scheduled", "scheduled"
    SENDING = "sending", "sending"
    SENT = "sent", "sent"
    PARTLY_SENT = "partly_sent", "partly sent"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"


class PushMode(models.TextChoices):
    MASS_SEND = "mass_send", "Mass send (notifies followers, uses quota)"
    PUBLISH_ONLY = "publish_only", "Publish only (no notification, no quota)"


class PushAudience(models.TextChoices):
    ALL = "all", "All followers"
    TAG = "tag", "Followers with a tag"
    OPENIDS = "openids", "A list of openids"


class Push(models.Model):
    """1–8 ordered articles sent to one account's followers at a time: the unit of WeChat's mass-send quota."""

    account = models.ForeignKey("wechat.OfficialAccount", on_delete=models.PROTECT, related_name="pushes")
    title = models.CharField(max_length=100, help_text="For staff only; followers see the articles' titles.")
    mode = models.CharField(max_length=16, choices=PushMode.choices, default=PushMode.MASS_SEND)
    audience = models.CharField(max_length=16, choices=PushAudience.choices, default=PushAudience.ALL)
    audience_tag_id = models.PositiveIntegerField("audience tag id", null=True, blank=True)
    audience_openids = models.TextField(blank=True, help_text="One openid a line.")
    status = models.CharField(max_length=16, choices=PushStatus.choices, default=PushStatus.DRAFT, editable=False)
    scheduled_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=300, blank=True, editable=False)

    # What each send step stored, so a retried or restarted task resumes after it (see articles/sending.py).
    thumb_media_id = models.CharField(max_length=128, blank=True, editable=False)
    draft_media_id = models.CharField(max_length=128, blank=True, editable=False)
    publish_id = models.CharField(max_length=64, blank=True, editable=False)
    # Which articles (and their versions) the stored draft was made from: a preview's draft is
    # reused by the real send only while it still matches (articles/services/sending.py).
    draft_fingerprint = models.CharField(max_length=64, blank=True, editable=False)
    # Each send step touches this; beat resumes a push in `sending` whose progress has stalled.
    send_progress_at = models.DateTimeField(null=True, blank=True, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="pushes",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-scheduled_at", "-created_at"]
        verbose_name = "push"
        verbose_name_plural = "pushes"
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
    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="push_articles")
    article = models.ForeignKey(Article, on_delete=models.PROTECT, related_name="push_articles")
    position = models.PositiveSmallIntegerField()
    # Filled from MASSSENDJOBFINISH's ArticleUrlResult or PUBLISHJOBFINISH.
    article_url = models.URLField(max_length=500, blank=True, editable=False)
    # This article's cover, uploaded as a permanent thumb for draft/add.
    thumb_media_id = models.CharField(max_length=128, blank=True, editable=False)

    class Meta:
        ordering = ["push", "position"]
        verbose_name = "article in push"
        verbose_name_plural = "articles in push"
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

    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="batches")
    number = models.PositiveIntegerField()
    clientmsgid = models.CharField(max_length=32, unique=True)
    msg_id = models.CharField(max_length=32, blank=True)
    msg_data_id = models.CharField(max_length=32, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    # From MASSSENDJOBFINISH.
    job_status = models.CharField(max_length=64, blank=True)
    job_status_reason = models.CharField(max_length=200, blank=True)
    total_count = models.PositiveIntegerField(null=True, blank=True)
    filter_count = models.PositiveIntegerField(null=True, blank=True)
    sent_count = models.PositiveIntegerField(null=True, blank=True)
    error_count = models.PositiveIntegerField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["push", "number"]
        verbose_name = "send batch"
        verbose_name_plural = "send batches"
        constraints = [models.UniqueConstraint(fields=["push", "number"], name="articles_pushbatch_one_per_number")]
        indexes = [models.Index(fields=["msg_id"], name="articles_pushbatch_msg_id")]

    def __str__(self) -> str:
        return f"{self.push_id} #{self.number}"


class PushEvent(StatusEvent):
    """One status change of a push, appended by the status service and never edited."""

    subject_field = "push"

    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=16, choices=PushStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=PushStatus.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = "push event"
        verbose_name_plural = "push events"


class MassSendQuotaSpent(models.Model):
    """WeChat answered 45028 (no mass-send quota left) in this window: quota was spent outside our product."""

    account = models.ForeignKey("wechat.OfficialAccount", on_delete=models.CASCADE, related_name="quota_spent")
    # The window's first Beijing date: the day (subscription) or the first of the month (service).
    window_start = models.DateField()
    push = models.ForeignKey(Push, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=200)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-window_start"]
        verbose_name = "mass-send window spent at WeChat"
        verbose_name_plural = "mass-send windows spent at WeChat"
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
        INLINE = "inline", "inline image (uploadimg URL)"
        THUMB = "thumb", "cover (permanent thumb)"

    account = models.ForeignKey("wechat.OfficialAccount", on_delete=models.CASCADE, related_name="uploaded_images")
    sha256 = models.CharField(max_length=64)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    url = models.URLField(max_length=500, blank=True)
    media_id = models.CharField(max_length=128, blank=True)
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "image uploaded to WeChat"
        verbose_name_plural = "images uploaded to WeChat"
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

    account = models.ForeignKey("wechat.OfficialAccount", on_delete=models.CASCADE, related_name="+")
    msg_id = models.CharField(max_length=32)
    message = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "mass-send job result"
        verbose_name_plural = "mass-send job results"
        constraints = [models.UniqueConstraint(fields=["account", "msg_id"], name="articles_massjobfinished_once")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.msg_id}"
