"""A customer belongs to the Mini Program they log in through, named by the Referer WeChat gives its requests."""

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from customers.models import Customer
from tests.factories import CustomerFactory
from tests.languages import ENGLISH
from wechat.merchants import mini_program_default
from wechat.models import Merchant, MiniProgram

pytestmark = pytest.mark.django_db
LOGIN = "/api/v1/auth/login"
SECOND_APPID = "wx00000000000000b2"
SECOND_SECRET = "second-mini-program-secret"


def referer(appid: str, version: str = "3") -> str:
    """The Referer a Mini Program's wx.request carries (小程序 网络 / 使用说明)."""
    return f"https://servicewechat.com/{appid}/{version}/page-frame.html"


@pytest.fixture
def second_mini_program(sandbox):
    """A second Mini Program at WeChat and among our rows; the session's sandbox forgets it afterwards."""
    sandbox.register_app(SECOND_APPID, SECOND_SECRET, "mini_program")
    merchant = Merchant.objects.create(name="Second shop", mch_id="1900000222", api_version="v2", api_key="b" * 32)
    yield MiniProgram.objects.create(name="Second", appid=SECOND_APPID, app_secret=SECOND_SECRET, merchant=merchant)
    sandbox.remove_app(SECOND_APPID)


def test_a_login_from_another_mini_program_makes_a_customer_of_that_mini_program(sandbox, second_mini_program):
    minted = sandbox.mint_login_code(appid=SECOND_APPID)

    response = APIClient(**ENGLISH).post(
        LOGIN, {"code": minted["code"]}, format="json", HTTP_REFERER=referer(SECOND_APPID)
    )

    assert response.status_code == 200, response.json()
    customer = Customer.objects.get(pk=response.json()["customer"]["id"])
    assert (customer.mini_program, customer.openid) == (second_mini_program, minted["openid"])
    [call] = sandbox.received("/sns/jscode2session")
    assert call["query"]["appid"] == SECOND_APPID


def test_the_developer_tools_referer_names_the_mini_program_too(sandbox, second_mini_program):
    minted = sandbox.mint_login_code(appid=SECOND_APPID)

    response = APIClient(**ENGLISH).post(
        LOGIN, {"code": minted["code"]}, format="json", HTTP_REFERER=referer(SECOND_APPID, "devtools")
    )

    assert response.status_code == 200, response.json()
    assert Customer.objects.get(openid=minted["openid"]).mini_program == second_mini_program


def test_one_openid_in_two_mini_programs_is_two_customers(sandbox, second_mini_program):
    openid = "oSameOpenidInTwoApps000000001"
    first = sandbox.mint_login_code(openid=openid, appid=settings.WECHAT_MINI_PROGRAM_APPID)
    second = sandbox.mint_login_code(openid=openid, appid=SECOND_APPID)

    APIClient(**ENGLISH).post(LOGIN, {"code": first["code"]}, format="json")
    APIClient(**ENGLISH).post(LOGIN, {"code": second["code"]}, format="json", HTTP_REFERER=referer(SECOND_APPID))

    owners = set(Customer.objects.filter(openid=openid).values_list("mini_program__appid", flat=True))
    assert owners == {settings.WECHAT_MINI_PROGRAM_APPID, SECOND_APPID}


def test_without_a_mini_program_referer_the_login_is_the_settings_shops(sandbox):
    minted = sandbox.mint_login_code()

    response = APIClient(**ENGLISH).post(
        LOGIN, {"code": minted["code"]}, format="json", HTTP_REFERER="https://example.com/"
    )

    assert response.status_code == 200, response.json()
    customer = Customer.objects.get(openid=minted["openid"])
    assert customer.mini_program == mini_program_default()
    assert customer.mini_program.appid == settings.WECHAT_MINI_PROGRAM_APPID


def test_a_mini_program_we_do_not_serve_is_refused_before_wechat_is_asked(sandbox):
    response = APIClient(**ENGLISH).post(
        LOGIN, {"code": "any-code"}, format="json", HTTP_REFERER=referer("wx00000000000000ff")
    )

    assert response.status_code == 400
    assert response.json()["code"] == "unknown_mini_program"
    assert sandbox.received("/sns/jscode2session") == []
    assert not Customer.objects.exists()


def test_a_code_of_another_mini_program_is_refused_by_wechat(sandbox, second_mini_program):
    minted = sandbox.mint_login_code(appid=SECOND_APPID)

    response = APIClient(**ENGLISH).post(
        LOGIN, {"code": minted["code"]}, format="json"
    )  # no Referer: the settings' app

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_login_code"
    assert not Customer.objects.exists()


def test_a_customer_from_before_mini_programs_were_rows_keeps_their_account(sandbox):
    earlier = CustomerFactory(openid="oCustomerFromBefore0000000001")
    assert earlier.mini_program is None

    minted = sandbox.mint_login_code(openid=earlier.openid)
    response = APIClient(**ENGLISH).post(LOGIN, {"code": minted["code"]}, format="json")

    assert response.json()["customer"]["id"] == earlier.pk
    earlier.refresh_from_db()
    assert earlier.mini_program == mini_program_default()
    assert Customer.objects.count() == 1
