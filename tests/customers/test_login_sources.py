"""Attribution on login: a customer keeps the first campaign they log in with (issue 17 item 4)."""

import pytest
from rest_framework.test import APIClient

from campaigns.models import Campaign
from campaigns.services import campaign_create
from customers.models import Customer
from tests.languages import ENGLISH

pytestmark = pytest.mark.django_db
LOGIN = "/api/v1/auth/login"


@pytest.fixture
def api():
    return APIClient(**ENGLISH)


@pytest.fixture
def poster():
    return campaign_create(name="Spring poster", channel=Campaign.Channel.POSTER, code="poster-0412")


def _login(sandbox, api, openid: str | None = None, source: dict | None = None):
    minted = sandbox.mint_login_code(**({"openid": openid} if openid else {}))
    body = {"code": minted["code"]}
    if source is not None:
        body["source"] = source
    return minted["openid"], api.post(LOGIN, body, format="json")


@pytest.mark.parametrize(
    "source",
    [
        {"scene": 1058, "campaign": "a7", "path": "pages/product/detail"},
        {"scene": 1035, "campaign": "menu-shop", "path": "pages/index/index"},
        {"scene": 1047, "campaign": "poster-0412", "path": "pages/product/detail"},
        {"scene": 1048, "campaign": "poster-0412", "path": "pages/product/detail"},
        {"scene": 1049, "campaign": "poster-0412", "path": "pages/product/detail"},
    ],
)
def test_a_first_login_records_its_campaign(sandbox, api, poster, source):
    openid, response = _login(sandbox, api, source=source)

    assert response.status_code == 200, response.json()
    customer = Customer.objects.get(openid=openid)
    assert (customer.first_source_scene, customer.first_source_campaign, customer.first_source_path) == (
        source["scene"],
        source["campaign"],
        source["path"],
    )
    assert customer.first_campaign == (poster if source["campaign"] == poster.code else None)
    assert customer.first_source_at == customer.last_login_at


def test_an_unknown_campaign_code_is_kept_as_given(sandbox, api, poster):
    openid, response = _login(sandbox, api, source={"scene": 1047, "campaign": "not-entered-yet"})

    assert response.status_code == 200, response.json()
    customer = Customer.objects.get(openid=openid)
    assert (customer.first_source_campaign, customer.first_campaign, customer.first_source_path) == (
        "not-entered-yet",
        None,
        "",
    )


def test_the_first_campaign_is_never_overwritten_by_a_later_login(sandbox, api, poster):
    openid, _ = _login(sandbox, api, source={"scene": 1058, "campaign": "a7", "path": "pages/product/detail"})
    first = Customer.objects.get(openid=openid)

    _, again = _login(sandbox, api, openid=openid, source={"scene": 1047, "campaign": "poster-0412"})

    assert again.status_code == 200, again.json()
    customer = Customer.objects.get(openid=openid)
    assert (customer.first_source_campaign, customer.first_source_scene, customer.first_campaign) == ("a7", 1058, None)
    assert customer.first_source_at == first.first_source_at
    assert customer.last_login_at > first.last_login_at


def test_a_login_without_a_campaign_leaves_the_first_campaign_to_a_later_one(sandbox, api, poster):
    openid, plain = _login(sandbox, api)
    _, from_the_menu = _login(sandbox, api, openid=openid, source={"scene": 1035, "path": "pages/index/index"})

    assert plain.status_code == from_the_menu.status_code == 200
    assert Customer.objects.get(openid=openid).first_source_campaign == ""

    _login(sandbox, api, openid=openid, source={"scene": 1047, "campaign": "poster-0412"})

    customer = Customer.objects.get(openid=openid)
    assert (customer.first_source_campaign, customer.first_source_scene, customer.first_campaign) == (
        "poster-0412",
        1047,
        poster,
    )


@pytest.mark.parametrize(
    ("source", "field", "words"),
    [
        ({"scene": "article"}, "scene", "A valid integer is required."),
        ({"scene": 999}, "scene", "Ensure this value is greater than or equal to 1000."),
        ({"campaign": "x" * 33}, "campaign", "Ensure this field has no more than 32 characters."),
        ({"campaign": "海报"}, "campaign", "Use letters, digits and !#$&'()*+,/:;=?@-._~ only"),
        ({"path": "p" * 257}, "path", "Ensure this field has no more than 256 characters."),
    ],
)
def test_a_bad_source_is_a_400_naming_the_field_before_wechat_is_asked(sandbox, api, source, field, words):
    openid, response = _login(sandbox, api, source=source)

    assert response.status_code == 400
    body = response.json()
    assert (body["code"], list(body["fields"]), list(body["fields"]["source"])) == ("invalid", ["source"], [field])
    assert body["fields"]["source"][field][0].startswith(words)
    assert sandbox.received("/sns/jscode2session") == []
    assert not Customer.objects.filter(openid=openid).exists()
