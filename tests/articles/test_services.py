"""Article writes: content cleaned on every save, inline images kept as uploaded."""

from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from articles.images import READABLE_FORMATS, ImageCannotFit
from articles.services.articles import (
    _EXTENSIONS_BY_FORMAT,
    INLINE_IMAGE_MAX_UPLOAD_BYTES,
    article_inline_image_store,
    article_save,
)
from tests.articles.image_samples import encoded, noisy_photo
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db


def test_saving_cleans_the_content_and_records_who_wrote_a_new_article(admin_user):
    article = ArticleFactory.build(
        content='<p class="MsoNormal" style="mso-x:1;color:red">Hi<o:p></o:p></p><script>x</script>'
    )

    saved = article_save(article=article, staff_user=admin_user)

    saved.refresh_from_db()
    assert saved.content == '<p style="color: red">Hi</p>'
    assert saved.created_by == admin_user


def test_saving_an_existing_article_keeps_its_author(admin_user, django_user_model):
    article = ArticleFactory(created_by=admin_user)

    article_save(article=article, staff_user=django_user_model.objects.create_user(username="other"))

    article.refresh_from_db()
    assert article.created_by == admin_user


def test_content_that_is_too_long_once_cleaned_is_refused():
    article = ArticleFactory.build(content="<p>" + "x" * 20_000 + "</p>")

    with pytest.raises(ValidationError) as refusal:
        article_save(article=article)

    assert "content" in refusal.value.message_dict


def test_an_inline_image_is_stored_as_uploaded_under_articles_images(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    data = encoded(noisy_photo(300, 200, sigma=10), "PNG")

    url = article_inline_image_store(data=data)

    assert url.startswith("/media/articles/images/") and url.endswith(".png")
    assert (tmp_path / url.removeprefix("/media/")).read_bytes() == data


def test_an_upload_over_20_mb_is_refused_before_it_is_decoded(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path

    with pytest.raises(ImageCannotFit, match="upload images of at most 20 MB"):
        article_inline_image_store(data=b"\xff\xd8\xff" + b"\0" * INLINE_IMAGE_MAX_UPLOAD_BYTES)

    assert not any(Path(tmp_path).rglob("*"))


def test_every_accepted_format_has_a_file_extension():
    assert _EXTENSIONS_BY_FORMAT.keys() == READABLE_FORMATS
