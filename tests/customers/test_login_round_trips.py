"""A login's cost: one statement to PostgreSQL, the Mini Program's row kept per process, one WeChat client per thread.

What each saves is measured by bench/login.py (docs/benchmarks.md); these hold the behaviour it rests on.
"""

import threading

import pytest
import requests
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_redis.cache import RedisCache
from rest_framework.test import APIClient

from campaigns.models import Campaign
from customers.models import Customer, CustomerToken
from tests.caching import cache_round_trips
from tests.customers.test_mini_programs import SECOND_APPID, SECOND_SECRET, referer
from tests.languages import ENGLISH
from wechat.clients import EnvironmentOnceSession, mini_program_client
from wechat.merchants import mini_program_default
from wechat.models import Merchant, MiniProgram

pytestmark = pytest.mark.django_db
LOGIN = "/api/v1/auth/login"
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the one-statement login is PostgreSQL's; elsewhere the ORM's steps"
)


def _login(sandbox, openid: str, **extra) -> dict:
    code = sandbox.mint_login_code(openid=openid)["code"]
    response = APIClient(**ENGLISH).post(LOGIN, {"code": code, **extra}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def _statements(queries: CaptureQueriesContext) -> list[str]:
    """What was sent, but the savepoint the test's own transaction puts around it (none in production)."""
    return [query["sql"] for query in queries.captured_queries if "SAVEPOINT" not in query["sql"]]


@postgresql_only
def test_a_first_and_a_returning_login_are_one_statement_each(sandbox):
    _login(sandbox, "oSomeoneElse")  # the settings' Mini Program's row exists and this process keeps it

    with CaptureQueriesContext(connection) as first_queries:
        first = _login(sandbox, "oRoundTrips", source={"campaign": "spring", "scene": 1047})
    with CaptureQueriesContext(connection) as returning_queries:
        returning = _login(sandbox, "oRoundTrips", source={"campaign": "autumn"})

    assert len(_statements(first_queries)) == 1, _statements(first_queries)
    assert len(_statements(returning_queries)) == 1, _statements(returning_queries)
    assert first["customer"]["id"] == returning["customer"]["id"]
    assert first["customer"]["created_at"] == returning["customer"]["created_at"]
    customer = Customer.objects.get(openid="oRoundTrips")
    assert (customer.first_source_campaign, customer.first_source_scene) == ("spring", 1047)
    assert customer.first_source_at < customer.last_login_at
    assert CustomerToken.objects.filter(customer=customer).count() == 2


@postgresql_only
def test_the_one_statement_names_our_campaign_and_keeps_a_unionid_once_sent(sandbox):
    campaign = Campaign.objects.create(name="Poster", channel=Campaign.Channel.POSTER, code="poster1")
    _login(sandbox, "oUnionid")
    code = sandbox.mint_login_code(openid="oUnionid", unionid="oUnion1")["code"]
    APIClient(**ENGLISH).post(LOGIN, {"code": code, "source": {"campaign": "poster1"}}, format="json")
    _login(sandbox, "oUnionid")  # WeChat sends no unionid this time: the one sent before stays

    customer = Customer.objects.get(openid="oUnionid")
    assert (customer.unionid, customer.first_campaign_id) == ("oUnion1", campaign.pk)
    assert customer.mini_program == mini_program_default()


def test_a_mini_program_fixed_in_another_process_serves_the_next_login_after_a_misconfigured_one(sandbox):
    sandbox.register_app(SECOND_APPID, SECOND_SECRET, "mini_program")
    merchant = Merchant.objects.create(name="Second", mch_id="1900000333", api_version="v2", api_key="c" * 32)
    second = MiniProgram.objects.create(name="Second", appid=SECOND_APPID, app_secret="wrong", merchant=merchant)
    try:
        minted = sandbox.mint_login_code(appid=SECOND_APPID)
        refused = APIClient(**ENGLISH).post(
            LOGIN, {"code": minted["code"]}, format="json", HTTP_REFERER=referer(SECOND_APPID)
        )
        assert refused.status_code == 503
        # Staff fix the secret in another process: no signal reaches this one's copy of the row.
        MiniProgram.objects.filter(pk=second.pk).update(app_secret=SECOND_SECRET)

        minted = sandbox.mint_login_code(appid=SECOND_APPID)
        response = APIClient(**ENGLISH).post(
            LOGIN, {"code": minted["code"]}, format="json", HTTP_REFERER=referer(SECOND_APPID)
        )

        assert response.status_code == 200, response.json()
        assert Customer.objects.get(pk=response.json()["customer"]["id"]).mini_program == second
    finally:
        sandbox.remove_app(SECOND_APPID)


# Committed for real: PostgreSQL checks the customer's reference to its Mini Program at commit.
@pytest.mark.django_db(transaction=True)
def test_a_mini_program_deleted_by_another_process_is_unknown_not_a_server_error(sandbox):
    sandbox.register_app(SECOND_APPID, SECOND_SECRET, "mini_program")
    merchant = Merchant.objects.create(name="Second", mch_id="1900000444", api_version="v2", api_key="d" * 32)
    second = MiniProgram.objects.create(name="Second", appid=SECOND_APPID, app_secret=SECOND_SECRET, merchant=merchant)
    try:
        first = sandbox.mint_login_code(appid=SECOND_APPID)
        client = APIClient(**ENGLISH)
        assert (
            client.post(LOGIN, {"code": first["code"]}, format="json", HTTP_REFERER=referer(SECOND_APPID)).status_code
            == 200
        )
        Customer.objects.filter(mini_program=second).delete()
        with connection.cursor() as cursor:  # another process's delete: this one's copy of the row stays
            cursor.execute(f"DELETE FROM {MiniProgram._meta.db_table} WHERE id = %s", [second.pk])

        minted = sandbox.mint_login_code(appid=SECOND_APPID)
        response = client.post(LOGIN, {"code": minted["code"]}, format="json", HTTP_REFERER=referer(SECOND_APPID))

        assert response.status_code == 400
        assert response.json()["code"] == "unknown_mini_program"
    finally:
        sandbox.remove_app(SECOND_APPID)


def test_each_thread_keeps_one_client_per_app_and_reuses_it(sandbox):
    mini_program = mini_program_default()
    here = mini_program_client(mini_program)
    elsewhere = []
    thread = threading.Thread(target=lambda: elsewhere.append(mini_program_client(mini_program)))
    thread.start()
    thread.join()

    assert mini_program_client(mini_program) is here
    assert elsewhere[0] is not here  # a requests.Session is not shared between threads


@pytest.mark.parametrize(
    "url",
    ["https://api.weixin.qq.com/sns/jscode2session?a=1", "http://127.0.0.1:8900/x", "https://file.api.weixin.qq.com/y"],
)
def test_the_environment_is_read_once_with_requests_own_rules(monkeypatch, url):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,file.api.weixin.qq.com")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    ours = EnvironmentOnceSession()
    for proxies, verify in [({}, None), ({"https": "http://another:1"}, "/ca.pem"), ({}, False)]:
        expected = requests.Session().merge_environment_settings(url, dict(proxies), None, verify, None)
        assert ours.merge_environment_settings(url, dict(proxies), None, verify, None) == expected
        assert ours.merge_environment_settings(url, dict(proxies), None, verify, None) == expected  # kept


def test_a_login_makes_one_round_trip_to_the_shared_cache_the_throttle_s(sandbox):
    if not isinstance(caches["default"], RedisCache):
        pytest.skip("the shared cache is not Redis here")
    _login(sandbox, "oSomeoneElse")  # Redis has the throttle's script; this process keeps the Mini Program's row

    with cache_round_trips() as sent:
        _login(sandbox, "oCacheRoundTrips")

    assert sent == ["EVALSHA"]
