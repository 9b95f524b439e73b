from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThan, LessThan

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
