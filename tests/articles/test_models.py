import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from articles.models import Article
from tests.factories import ArticleFactory

pytestmark = pytest.mark.django_db


def _refusals(article: Article) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        article.full_clean()
    return refused.value.message_dict


def test_a_title_of_32_characters_is_accepted():
    ArticleFactory.build(title="标" * 32).full_clean()


def test_a_title_of_33_characters_is_refused_with_wechats_limit():
    refusals = _refusals(ArticleFactory.build(title="标" * 33))

    assert refusals == {"title": ["WeChat allows at most 32 characters in a title; this one has 33."]}


def test_a_title_is_required():
    assert "title" in _refusals(ArticleFactory.build(title=""))


def test_author_and_digest_have_wechats_limits():
    refusals = _refusals(ArticleFactory.build(author="a" * 17, digest="d" * 129))

    assert refusals == {
        "author": ["WeChat allows at most 16 characters for the author; this has 17."],
        "digest": ["WeChat allows at most 128 characters in a digest; this one has 129."],
    }


def test_content_just_under_20000_characters_is_accepted():
    ArticleFactory.build(content="x" * 19_999).full_clean()


def test_content_of_20000_characters_is_refused_with_wechats_limit():
    refusals = _refusals(ArticleFactory.build(content="x" * 20_000))

    assert refusals == {"content": ["WeChat needs content shorter than 20,000 characters; this has 20000."]}


def test_a_cover_is_required():
    assert _refusals(ArticleFactory.build(cover=None)) == {"cover": ["This field cannot be blank."]}


def test_a_source_url_must_be_a_url():
    assert "content_source_url" in _refusals(ArticleFactory.build(content_source_url="not a url"))


def test_database_refuses_content_over_the_limit_written_without_validation():
    with pytest.raises(IntegrityError), transaction.atomic():
        ArticleFactory(content="x" * 20_000)


def test_database_refuses_empty_content_and_title():
    with pytest.raises(IntegrityError), transaction.atomic():
        ArticleFactory(content="")
    with pytest.raises(IntegrityError), transaction.atomic():
        ArticleFactory(title="")
