"""Staff read the admin in Simplified Chinese unless they pick English in the header's user menu."""

import pytest
from django.contrib.auth import get_user_model

from staff.models import StaffLanguage

pytestmark = [pytest.mark.django_db, pytest.mark.chinese_staff]

SWITCH = "/admin/language/"
# Whatever the browser asks for, the admin follows the staff member's own choice.
BROWSER_IN_ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}


def _staff(username: str = "operator"):
    return get_user_model().objects.create_user(username, password="pw-for-tests-only", is_staff=True)


def _page(client, path: str = "/admin/") -> str:
    response = client.get(path, **BROWSER_IN_ENGLISH)
    assert response.status_code == 200
    return response.content.decode()


def test_staff_read_chinese_by_default(client):
    client.force_login(_staff())

    page = _page(client)

    assert '<html lang="zh-hans"' in page
    assert "微信内容与商城管理后台" in page  # our site header
    assert "WeChat CMS" not in page


def test_the_login_page_is_chinese_too(client):
    page = client.get("/admin/login/", **BROWSER_IN_ENGLISH).content.decode()

    assert "用户名" in page  # Django's own catalog: "Username"


def test_the_user_menu_offers_both_languages_and_posts_to_our_switch(client):
    client.force_login(_staff())

    page = _page(client)

    assert f'action="{SWITCH}"' in page
    assert 'name="language" type="hidden" value="en"' in page
    assert 'name="language" type="hidden" value="zh-hans"' in page


def test_switching_to_english_is_kept_for_that_user_only(client):
    operator, colleague = _staff("operator"), _staff("colleague")
    client.force_login(operator)

    response = client.post(SWITCH, {"language": "en", "next": "/admin/orders/order/"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/orders/order/"
    assert StaffLanguage.objects.get(user=operator).language == "en"
    page = _page(client)
    assert "WeChat CMS" in page and "微信内容与商城管理后台" not in page
    # A new session (another browser) reads English too: the choice is the user's, not the session's.
    client.logout()
    client.force_login(operator)
    assert "WeChat CMS" in _page(client)
    client.force_login(colleague)
    assert "微信内容与商城管理后台" in _page(client)


def test_switching_back_to_chinese(client):
    operator = _staff()
    StaffLanguage.objects.create(user=operator, language="en")
    client.force_login(operator)

    client.post(SWITCH, {"language": "zh-hans", "next": "/admin/"})

    assert StaffLanguage.objects.get(user=operator).language == "zh-hans"
    assert "微信内容与商城管理后台" in _page(client)


def test_an_unknown_language_is_refused_and_nothing_is_kept(client):
    operator = _staff()
    client.force_login(operator)

    response = client.post(SWITCH, {"language": "fr"})

    assert response.status_code == 400
    assert not StaffLanguage.objects.filter(user=operator).exists()


def test_an_offsite_next_is_not_followed(client):
    client.force_login(_staff())

    response = client.post(SWITCH, {"language": "en", "next": "https://attacker.example/"})

    assert response["Location"] == "/admin/"


def test_only_signed_in_staff_can_switch(client):
    shopper_side = get_user_model().objects.create_user("not-staff", password="pw-for-tests-only")
    client.force_login(shopper_side)

    response = client.post(SWITCH, {"language": "en"})

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not StaffLanguage.objects.exists()


def test_switching_needs_a_post(client):
    client.force_login(_staff())

    assert client.get(SWITCH, {"language": "en"}).status_code == 405


def test_the_language_costs_no_query_after_the_first_page(client, django_assert_num_queries):
    client.force_login(_staff())
    _page(client)

    # The session and the user, which the 405 needs anyway; nothing for the language.
    with django_assert_num_queries(2):
        client.get("/admin/language/")


def test_without_next_the_switch_returns_to_the_page_it_was_used_on(client):
    client.force_login(_staff())

    response = client.post(SWITCH, {"language": "en"}, HTTP_REFERER="http://testserver/admin/orders/order/?status=paid")

    assert response["Location"] == "http://testserver/admin/orders/order/?status=paid"
