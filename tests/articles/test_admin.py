import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from articles.models import Article
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db

# Session, user, two counts, the page of rows with their creators.
CHANGELIST_QUERY_LIMIT = 5


def _cover_upload() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (90, 38), "seagreen").save(buffer, format="JPEG")
    return SimpleUploadedFile("cover.jpg", buffer.getvalue(), content_type="image/jpeg")


def test_article_changelist_renders_in_bounded_queries(admin_client, admin_user, django_assert_max_num_queries):
    ArticleFactory.create_batch(20, created_by=admin_user)

    with django_assert_max_num_queries(CHANGELIST_QUERY_LIMIT):
        response = admin_client.get(reverse("admin:articles_article_changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count == 20


def test_adding_an_article_records_who_wrote_it(admin_client, admin_user):
    response = admin_client.post(
        reverse("admin:articles_article_add"),
        {
            "title": "新品上架",
            "author": "编辑部",
            "digest": "",
            "content": "<p>秋天到了。</p>",
            "content_source_url": "",
            "cover": _cover_upload(),
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert Article.objects.get().created_by == admin_user


def test_the_add_form_shows_wechats_title_limit(admin_client):
    response = admin_client.post(
        reverse("admin:articles_article_add"),
        {"title": "t" * 33, "content": "<p>x</p>", "cover": _cover_upload()},
    )

    assert response.status_code == 200
    assert not Article.objects.exists()
    assert "at most 32" in response.content.decode()
