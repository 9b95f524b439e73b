"""Campaigns: where a visitor came from (a push, an article, a poster), named by a code that fits WeChat's `scene`.

The code travels in Mini Program paths (`pages/product/detail?id=12&c=<code>`) and in Mini Program
codes' `scene`, so it keeps to what getwxacodeunlimit accepts: at most 32 characters of
[0-9A-Za-z] and !#$&'()*+,/:;=?@-._~ (获取不限制的小程序码 getUnlimitedQRCode, 请求参数 scene).
"""

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from config.status_machine import StatusEvent
from wechat.miniprogram_codes import (
    ENV_VERSIONS,
    PAGE_MAX_LENGTH,
    SCENE_CHARACTERS,
    SCENE_MAX_LENGTH,
    WIDTH_DEFAULT,
    WIDTH_MAX,
    WIDTH_MIN,
)

CAMPAIGN_CODE_VALIDATOR = RegexValidator(
    f"^[{SCENE_CHARACTERS}]+\\Z",  # \Z, not $, which lets a trailing line break through
    _("Use letters, digits and !#$&'()*+,/:;=?@-._~ only: WeChat refuses other characters in a code's scene."),
)


class Campaign(models.Model):
    class Channel(models.TextChoices):
        PUSH = "push", _("push")
        ARTICLE = "article", _("article")
        MENU = "menu", _("menu")
        POSTER = "poster", _("poster")
        OTHER = "other", _("other")

    name = models.CharField(_("name"), max_length=100)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    code = models.CharField(
        _("code"),
        max_length=SCENE_MAX_LENGTH,
        unique=True,
        validators=[CAMPAIGN_CODE_VALIDATOR],
        help_text=_(
            "Carried in Mini Program links and codes (c=<code>). Leave empty to have one made; "
            "pushes and articles get p<number> and a<number>."
        ),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        # The revenue report (/admin/revenue/, orders/revenue.py) sums orders, refunds and visitors by campaign.
        permissions = [("view_revenue_campaign", "Can view revenue by source")]
        constraints = [
            models.CheckConstraint(condition=~models.Q(code=""), name="campaigns_campaign_code_not_blank"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class MiniProgramCode(models.Model):
    """A Mini Program code (wxa/getwxacodeunlimit) for a campaign: its page and scene, and the PNG WeChat drew."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("being made")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    class EnvVersion(models.TextChoices):
        RELEASE = "release", _("release (published version)")
        TRIAL = "trial", _("trial version")
        DEVELOP = "develop", _("development version")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="mini_program_codes", verbose_name=_("campaign")
    )
    mini_program = models.ForeignKey(
        "wechat.MiniProgram", on_delete=models.PROTECT, related_name="+", verbose_name=_("Mini Program")
    )
    product = models.ForeignKey(
        "catalog.Product",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("product"),
    )
    page = models.CharField(_("page"), max_length=PAGE_MAX_LENGTH)
    scene = models.CharField(_("scene"), max_length=SCENE_MAX_LENGTH)
    env_version = models.CharField(
        _("version opened"), max_length=8, choices=EnvVersion.choices, default=EnvVersion.RELEASE
    )
    width = models.PositiveSmallIntegerField(_("width (px)"), default=WIDTH_DEFAULT)
    image = models.ImageField(_("image"), upload_to="campaigns/codes/", blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED, editable=False)
    error = models.CharField(_("error"), max_length=300, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    generated_at = models.DateTimeField(_("generated at"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("Mini Program code")
        verbose_name_plural = _("Mini Program codes")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(width__gte=WIDTH_MIN, width__lte=WIDTH_MAX),
                name="campaigns_code_width_in_wechat_range",
            ),
            models.CheckConstraint(
                condition=models.Q(env_version__in=ENV_VERSIONS), name="campaigns_code_env_version_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.page}?scene={self.scene}"


class MiniProgramCodeEvent(StatusEvent):
    """One status change of a Mini Program code, appended by its status service and never edited."""

    subject_field = "code"

    code = models.ForeignKey(
        MiniProgramCode, on_delete=models.CASCADE, related_name="events", verbose_name=_("Mini Program code")
    )
    from_status = models.CharField(_("from status"), max_length=8, choices=MiniProgramCode.Status.choices, blank=True)
    to_status = models.CharField(_("to status"), max_length=8, choices=MiniProgramCode.Status.choices)

    class Meta(StatusEvent.Meta):
        verbose_name = _("Mini Program code event")
        verbose_name_plural = _("Mini Program code events")
