"""Writes of articles and their inline images."""

import io
import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from PIL import Image

from articles.content import article_content_clean
from articles.images import ImageCannotFit, image_for_uploadimg
from articles.models import Article

INLINE_IMAGE_FOLDER = "articles/images"
# A phone photo is 3–12 MB; past this an upload is a mistake (a video, a scan) and costs the server.
INLINE_IMAGE_MAX_UPLOAD_BYTES = 20 * 1024 * 1024
_EXTENSIONS_BY_FORMAT = {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}


@transaction.atomic
def article_save(*, article: Article, staff_user: AbstractBaseUser | None = None) -> Article:
    """Save an article with its content cleaned to what WeChat keeps; a new one records who wrote it."""
    article.content = article_content_clean(article.content)
    if article.pk is None and staff_user is not None:
        article.created_by = staff_user
    article.full_clean()
    article.save()
    return article


def article_inline_image_store(*, data: bytes) -> str:
    """Keep an image staff put into an article, as uploaded, and return its URL for the editor.

    Refused with ImageCannotFit when the send task could never make it fit media/uploadimg:
    the check runs the same compression the send task will.
    """
    if len(data) > INLINE_IMAGE_MAX_UPLOAD_BYTES:
        raise ImageCannotFit(
            f"This file is {len(data) / 1024 / 1024:.0f} MB; upload images of at most "
            f"{INLINE_IMAGE_MAX_UPLOAD_BYTES // 1024 // 1024} MB."
        )
    image_for_uploadimg(data)
    extension = _stored_extension(data)
    name = default_storage.save(f"{INLINE_IMAGE_FOLDER}/{uuid.uuid4().hex}.{extension}", ContentFile(data))
    return default_storage.url(name)


def _stored_extension(data: bytes) -> str:
    """The extension of the image's real format (never the name the browser sent); checked readable before."""
    with Image.open(io.BytesIO(data)) as image:
        return _EXTENSIONS_BY_FORMAT[image.format]
