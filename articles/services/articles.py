"""Writes of articles and their inline images."""

import io
import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image

from articles.content import article_content_clean, article_mini_program_campaign_set
from articles.images import ImageCannotFit, image_for_uploadimg
from articles.models import Article
from campaigns.models import Campaign
from campaigns.services import campaign_automatic_ensure
from wechat.linked_mini_programs import article_mini_program_appids

INLINE_IMAGE_FOLDER = "articles/images"
# A phone photo is 3–12 MB; past this an upload is a mistake (a video, a scan) and costs the server.
INLINE_IMAGE_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_EXTENSIONS_BY_FORMAT = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}


@transaction.atomic
def article_save(*, article: Article, staff_user: AbstractBaseUser | None = None) -> Article:
    """Save an article with its content cleaned to what WeChat keeps; a new one records who wrote it.

    The article's campaign (code a<id>) is made with it, and its Mini Program links carry that code.
    """
    if article.pk is None and staff_user is not None:
        article.created_by = staff_user
    article.content = article_content_clean(article.content, mini_program_appids=article_mini_program_appids())
    article.full_clean()
    article.save()
    campaign = campaign_automatic_ensure(channel=Campaign.Channel.ARTICLE, number=article.pk, name=article.title)
    content = article_mini_program_campaign_set(article.content, campaign_code=campaign.code)
    if article.campaign_id != campaign.pk or content != article.content:
        article.campaign, article.content = campaign, content
        article.save(update_fields=["campaign", "content"])
    return article


def article_inline_image_store(*, data: bytes) -> str:
    """Keep an image staff put into an article, as uploaded, and return its URL for the editor.

    Refused with ImageCannotFit when the send task could never make it fit media/uploadimg:
    the check runs the same compression the send task will.
    """
    if len(data) > INLINE_IMAGE_MAX_UPLOAD_BYTES:
        raise ImageCannotFit(
            _("This file is %(megabytes)s MB; upload images of at most %(max_megabytes)s MB.")
            % {
                "megabytes": format(len(data) / 1024 / 1024, ".0f"),
                "max_megabytes": INLINE_IMAGE_MAX_UPLOAD_BYTES // 1024 // 1024,
            }
        )
    image_for_uploadimg(data)
    extension = _stored_extension(data)
    name = default_storage.save(f"{INLINE_IMAGE_FOLDER}/{uuid.uuid4().hex}.{extension}", ContentFile(data))
    return default_storage.url(name)


def _stored_extension(data: bytes) -> str:
    """The extension of the image's real format (never the name the browser sent); checked readable before."""
    with Image.open(io.BytesIO(data)) as image:
        return _EXTENSIONS_BY_FORMAT[image.format]
