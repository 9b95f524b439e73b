"""The article admin: editor, cleaned content, cover and inline image checks, phone previews."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from articles.models import Article
from articles.selectors import PREVIEW_ACCOUNT_PLACEHOLDER
from tests.articles.image_samples import animated_gif, encoded, noisy_photo, several_megabyte_jpeg
from tests.factories import ArticleFactory
from wechat.models import OfficialAccount

pytestmark = pytest.mark.django_db

SAMPLES = Path(__file__).parent / "paste_samples"
UPLOAD_URL = "admin:articles_article_upload_image"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def staff_member(client, django_user_model):
    def logged_in(group_name: str):
        user = django_user_model.objects.create_user(username=group_name.lower(), is_staff=True)
        user.groups.add(Group.objects.get(name=group_name))
        client.force_login(user)
        return user

    return logged_in


def _jpeg_upload(name: str = "cover.jpg", *, size=(900, 383)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, encoded(noisy_photo(*size, sigma=20), "JPEG", quality=85), "image/jpeg")


def _article_form(**overrides) -> dict:
    return {
        "title": "秋季品茶会",
        "author": "编辑部",
        "digest": "",
        "content": "<p>秋天到了。</p>",
        "content_source_url": "",
        "cover": _jpeg_upload(),
        **overrides,
    }


def test_the_change_page_has_the_bundled_editor_and_the_phone_preview(admin_client):
    article = ArticleFactory()

    page = admin_client.get(reverse("admin:articles_article_change", args=[article.pk])).content.decode()

    assert "data-django-prose-editor-configurable" in page
    assert "/static/django_prose_editor/editor.js" in page
    assert "/static/articles/editor_image_upload.js" in page
    assert "/static/articles/article_preview.js" in page
    assert 'id="article-phone-preview"' in page
    assert reverse("admin:articles_article_preview", args=[article.pk]) in page
    # Offline: no asset from another host.
    assert "https://cdn" not in page and "unpkg" not in page and "jsdelivr" not in page


def test_saving_pasted_word_html_keeps_text_and_images_and_drops_the_junk(admin_client):
    response = admin_client.post(
        reverse("admin:articles_article_add"), _article_form(content=(SAMPLES / "word.html").read_text())
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    content = Article.objects.get().content
    assert "Tieguanyin from Anxi" in content
    assert '<img src="https://cdn.example.com/tea/teapot.jpg" alt="Yixing teapot">' in content
    assert "mso-" not in content and "<o:p" not in content and "<!--" not in content and "class=" not in content


def test_content_with_nothing_wechat_would_show_is_a_form_error(admin_client):
    response = admin_client.post(
        reverse("admin:articles_article_add"), _article_form(content="<p><script>alert(1)</script>&nbsp;</p>")
    )

    assert response.status_code == 200
    assert not Article.objects.exists()
    assert response.context["adminform"].form.errors["content"] == [
        "Write some text or add an image: nothing WeChat would show is left."
    ]


def test_content_over_wechats_length_after_cleaning_is_a_form_error(admin_client):
    response = admin_client.post(
        reverse("admin:articles_article_add"), _article_form(content="<p>" + "字" * 20_000 + "</p>")
    )

    assert response.status_code == 200
    assert not Article.objects.exists()
    assert "WeChat needs content shorter than 20,000 characters" in str(response.context["adminform"].form.errors)


def test_a_several_megabyte_cover_photo_is_accepted_and_kept_as_uploaded(admin_client):
    photo = several_megabyte_jpeg()

    response = admin_client.post(
        reverse("admin:articles_article_add"),
        _article_form(cover=SimpleUploadedFile("big.jpg", photo, "image/jpeg")),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    with Article.objects.get().cover.open("rb") as stored:
        assert stored.read() == photo


def test_a_cover_that_can_never_fit_a_thumb_is_a_form_error(admin_client):
    # Tiny on disk, 100 megapixels once decoded: the thumb cannot be made from it safely.
    bomb = encoded(Image.new("1", (10_000, 10_000)), "PNG")

    response = admin_client.post(
        reverse("admin:articles_article_add"), _article_form(cover=SimpleUploadedFile("cover.png", bomb, "image/png"))
    )

    assert response.status_code == 200
    assert not Article.objects.exists()
    [error] = response.context["adminform"].form.errors["cover"]
    assert error.startswith("This image is 10000×10000 pixels (100 megapixels); the most we process is 50 megapixels")


def test_changing_an_article_without_a_new_cover_keeps_the_stored_one(admin_client):
    article = ArticleFactory()
    form = _article_form(content="<p>Updated</p>")
    del form["cover"]

    response = admin_client.post(reverse("admin:articles_article_change", args=[article.pk]), form)

    assert response.status_code == 302, response.context["adminform"].form.errors
    article.refresh_from_db()
    assert article.content == "<p>Updated</p>"
    assert article.cover.name.startswith("articles/covers/")


def test_marketing_uploads_a_several_megabyte_photo_for_the_editor(client, staff_member, settings):
    staff_member("Marketing")
    photo = several_megabyte_jpeg()

    response = client.post(reverse(UPLOAD_URL), {"image": SimpleUploadedFile("tea.jpg", photo, "image/jpeg")})

    assert response.status_code == 201
    url = response.json()["url"]
    assert url.startswith("/media/articles/images/") and url.endswith(".jpg")
    stored = Path(settings.MEDIA_ROOT) / url.removeprefix("/media/")
    assert stored.read_bytes() == photo


def test_an_upload_is_stored_under_its_real_format_whatever_its_name(client, staff_member):
    staff_member("Marketing")
    png = encoded(noisy_photo(200, 100, sigma=5), "PNG")

    response = client.post(reverse(UPLOAD_URL), {"image": SimpleUploadedFile("photo.jpg.exe", png, "image/jpeg")})

    assert response.status_code == 201
    assert response.json()["url"].endswith(".png")


def test_an_animated_gif_is_refused_with_the_reason(client, staff_member, settings):
    staff_member("Marketing")

    response = client.post(
        reverse(UPLOAD_URL), {"image": SimpleUploadedFile("dance.gif", animated_gif(frames=3, side=120), "image/gif")}
    )

    assert response.status_code == 400
    error = response.json()["error"]
    assert "animated GIF" in error and "JPG or PNG under 1 MB" in error and "lose the animation" in error
    assert not list(Path(settings.MEDIA_ROOT).rglob("*.gif"))


def test_a_file_that_is_not_an_image_is_refused(client, staff_member):
    staff_member("Marketing")

    response = client.post(
        reverse(UPLOAD_URL), {"image": SimpleUploadedFile("notes.pdf", b"%PDF-1.7", "application/pdf")}
    )

    assert response.status_code == 400
    assert response.json() == {"error": "This file is not an image we can read. Use a JPG, PNG, GIF or WebP image."}


def test_an_upload_without_a_file_is_refused(client, staff_member):
    staff_member("Marketing")

    response = client.post(reverse(UPLOAD_URL), {})

    assert response.status_code == 400
    assert response.json() == {"error": "Choose an image to upload."}


def test_the_upload_endpoint_takes_only_post(client, staff_member):
    staff_member("Marketing")

    assert client.get(reverse(UPLOAD_URL)).status_code == 405


def test_operations_who_only_read_articles_cannot_upload_images(client, staff_member, settings):
    staff_member("Operations")

    response = client.post(reverse(UPLOAD_URL), {"image": _jpeg_upload()})

    assert response.status_code == 403
    assert not list(Path(settings.MEDIA_ROOT).rglob("*.jpg"))


def test_someone_not_logged_in_is_sent_to_the_login_page(client):
    response = client.post(reverse(UPLOAD_URL), {"image": _jpeg_upload()})

    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


def test_the_preview_page_renders_the_saved_article_like_wechat(admin_client):
    OfficialAccount.objects.create(
        name="Tea House",
        appid="wx0123456789abcdef",
        app_secret="s" * 32,
        account_type=OfficialAccount.AccountType.SERVICE,
        callback_token="token",
        encoding_aes_key="k" * 43,
    )
    article = ArticleFactory(title="秋季品茶会", author="编辑部", content="<p>Steep <strong>twice</strong>.</p>")

    response = admin_client.get(reverse("admin:articles_article_preview", args=[article.pk]))

    assert response.status_code == 200
    assert [template.name for template in response.templates] == ["articles/preview.html"]
    page = response.content.decode()
    assert '<h1 class="article__title" id="preview-title">秋季品茶会</h1>' in page
    assert '<span class="article__author" id="preview-author">编辑部</span>' in page
    assert '<span class="article__account" id="preview-account">Tea House</span>' in page
    assert '<div class="article__content" id="preview-content"><p>Steep <strong>twice</strong>.</p></div>' in page
    assert f'src="{article.cover.url}"' in page
    assert "年" in page and "月" in page
    assert "script-src 'none'" in response["Content-Security-Policy"]


def test_the_preview_page_cleans_content_written_outside_the_admin(admin_client):
    article = ArticleFactory(content='<p onclick="steal()">Hi<script>alert(1)</script><iframe src="x"></iframe></p>')

    page = admin_client.get(reverse("admin:articles_article_preview", args=[article.pk])).content.decode()

    assert '<div class="article__content" id="preview-content"><p>Hi</p></div>' in page
    assert "<script" not in page.split('id="preview-content"')[1]
    assert f'<span class="article__account" id="preview-account">{PREVIEW_ACCOUNT_PLACEHOLDER}</span>' in page


def test_the_preview_page_of_a_missing_article_is_not_found(admin_client):
    assert admin_client.get(reverse("admin:articles_article_preview", args=[999_999])).status_code == 404
    assert admin_client.get("/admin/articles/article/abc/preview/").status_code == 404


def test_operations_can_read_the_preview_page(client, staff_member):
    staff_member("Operations")
    article = ArticleFactory()

    assert client.get(reverse("admin:articles_article_preview", args=[article.pk])).status_code == 200


def test_the_live_preview_renders_the_unsaved_form_with_cleaned_content(admin_client):
    response = admin_client.post(
        reverse("admin:articles_article_preview_render"),
        {
            "title": "草稿 <b>标题</b>",
            "author": "Mei",
            "content": '<p class="x" style="color:red;margin:9px">Hi</p><script>x()</script>',
        },
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "草稿 &lt;b&gt;标题&lt;/b&gt;" in page
    assert '<div class="article__content" id="preview-content"><p style="color: red">Hi</p></div>' in page
    assert 'id="cover" alt="Cover" src="" hidden' in page


def test_the_live_preview_takes_only_post(admin_client):
    assert admin_client.get(reverse("admin:articles_article_preview_render")).status_code == 405


def test_staff_without_article_permissions_get_no_preview(client, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="nobody", is_staff=True))
    article = ArticleFactory()

    assert client.get(reverse("admin:articles_article_preview", args=[article.pk])).status_code == 403
    assert client.post(reverse("admin:articles_article_preview_render"), {"title": "x"}).status_code == 403
    assert client.post(reverse(UPLOAD_URL), {"image": _jpeg_upload()}).status_code == 403
