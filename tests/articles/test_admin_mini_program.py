"""The article editor's Mini Program button: what it may link to, or why it cannot; the phone preview's card."""

import pytest
from django.urls import reverse

from articles.models import Article
from tests.factories import ArticleFactory, OfficialAccountFactory, ProductFactory, ProductImageFactory
from wechat.merchants import mini_program_default

pytestmark = pytest.mark.django_db

TARGETS_URL = "admin:articles_article_mini_program_targets"


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


@pytest.fixture
def linked_mini_program():
    mini_program = mini_program_default()
    OfficialAccountFactory(mini_program=mini_program)
    return mini_program


def _card(appid: str, path: str = "pages/product/detail?id=1") -> str:
    return (
        f'<mp-miniprogram data-miniprogram-appid="{appid}" data-miniprogram-path="{path}" '
        'data-miniprogram-title="铁观音" data-miniprogram-imageurl="https://shop.example.com/tea.jpg"></mp-miniprogram>'
    )


def test_the_editor_loads_the_mini_program_button(admin_client):
    page = admin_client.get(reverse("admin:articles_article_add")).content.decode()

    assert "articles/editor_mini_program.js" in page
    assert "WeChatMiniProgram" in page


def test_without_a_linked_mini_program_the_button_says_so_instead_of_inserting(admin_client):
    OfficialAccountFactory()

    answer = admin_client.get(reverse(TARGETS_URL)).json()

    assert answer["appid"] is None
    assert answer["error"].startswith("No Mini Program is linked to an Official Account")


def test_with_a_linked_mini_program_the_button_offers_its_products_with_their_page_and_picture(
    admin_client, linked_mini_program
):
    product = ProductFactory(title="Tieguanyin")
    ProductImageFactory(product=product)
    ProductFactory(title="Retired", is_active=False)

    answer = admin_client.get(reverse(TARGETS_URL)).json()

    assert answer["appid"] == linked_mini_program.appid
    [offered] = answer["products"]
    assert offered["title"] == "Tieguanyin"
    assert offered["path"] == f"pages/product/detail?id={product.pk}"
    assert offered["image_url"].startswith("http://testserver/media/catalog/")
    assert answer["labels"]["card"] == "Mini Program card"


def test_a_saved_article_keeps_our_card_with_its_campaign_and_drops_another_appids(admin_client, linked_mini_program):
    article = ArticleFactory()
    form = {
        "title": article.title,
        "author": "",
        "digest": "",
        "content": "<p>Try it:</p>" + _card(linked_mini_program.appid) + _card("wx0000000000000bad"),
        "content_source_url": "",
    }

    response = admin_client.post(reverse("admin:articles_article_change", args=[article.pk]), form)

    assert response.status_code == 302
    article = Article.objects.get(pk=article.pk)
    assert article.content.count("<mp-miniprogram") == 1
    assert f'data-miniprogram-appid="{linked_mini_program.appid}"' in article.content
    assert f'data-miniprogram-path="pages/product/detail?id=1&amp;c=a{article.pk}"' in article.content
    assert article.campaign.code == f"a{article.pk}"


def test_the_phone_preview_draws_the_card(admin_client, linked_mini_program):
    article = ArticleFactory(content="<p>Try it:</p>" + _card(linked_mini_program.appid))

    page = admin_client.get(reverse("admin:articles_article_preview", args=[article.pk])).content.decode()

    assert '<section class="mini-program-card">' in page
    assert '<p class="mini-program-card__title">铁观音</p>' in page
    assert 'src="https://shop.example.com/tea.jpg"' in page
    assert "<mp-miniprogram" not in page
