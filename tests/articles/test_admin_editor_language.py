"""The rich-text editor's words come in the staff member's language (issue 16, "Chinese first").

The admin's jsi18n script, which serves locale/zh_Hans/LC_MESSAGES/djangojs.po, must run before the
editor's modules: the bundle reads window.gettext once, as it loads. The browser side (toolbar titles,
dialogs) is tests/e2e/test_editor_language_browser.py.
"""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from staff.services import staff_language_set
from tests.factories import ArticleFactory, ProductFactory

pytestmark = [pytest.mark.django_db, pytest.mark.chinese_staff]


@pytest.fixture
def log_in(client):
    def logged_in(username: str, *, language: str | None = None):
        user = get_user_model().objects.create_superuser(username, password="pw-for-tests-only")
        if language:
            staff_language_set(user=user, language=language)
        client.force_login(user)  # reads the language into the session, as signing in does
        return user

    return logged_in


def _editor_pages() -> list[str]:
    return [
        reverse("admin:articles_article_add"),
        reverse("admin:articles_article_change", args=[ArticleFactory().pk]),
        reverse("admin:catalog_product_change", args=[ProductFactory().pk]),
    ]


def test_every_editor_page_loads_the_javascript_catalog_before_the_editor(client, log_in):
    log_in("laowang")
    for url in _editor_pages():
        page = client.get(url).content.decode()
        catalog = page.find(f'<script src="{reverse("admin:jsi18n")}"></script>')
        first_module = re.search(r'<script[^>]*type="module"', page).start()
        assert 0 <= catalog < first_module, url
        assert 'src="/static/django_prose_editor/editor.js"' in page[first_module:], url
        # The toolbar's translator is one of the editor's own modules, loaded before any editor is built.
        config = json.loads(
            re.search(r'data-django-prose-editor-configurable="([^"]*)"', page).group(1).replace("&quot;", '"')
        )
        assert "/static/articles/editor_toolbar_translation.js" in config["js_modules"], url


def _javascript_catalog(client) -> dict:
    script = client.get(reverse("admin:jsi18n")).content.decode()
    # Django leaves the catalog out of the script when the language has none (English).
    found = re.search(r"const newcatalog = (\{.*?\});\n", script, re.S)
    return json.loads(found.group(1)) if found else {}


def test_the_javascript_catalog_is_chinese_for_chinese_staff(client, log_in):
    log_in("laowang")
    catalog = _javascript_catalog(client)
    for english, chinese in [
        ("bold", "加粗"),
        ("Edit Link", "编辑链接"),
        ("Insert Table", "插入表格"),
        ("Cancel", "取消"),
    ]:
        assert catalog.get(english) == chinese, english


def test_the_javascript_catalog_keeps_english_for_staff_who_chose_english(client, log_in):
    log_in("mark", language="en")
    catalog = _javascript_catalog(client)
    assert "bold" not in catalog and "Edit Link" not in catalog
