from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from customers.models import Customer, CustomerToken
from tests.languages import ENGLISH

pytestmark = pytest.mark.django_db
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/me"


@pytest.fixture
def api():
    return APIClient(**ENGLISH)


def test_login_with_a_minted_code_returns_a_token_that_opens_authenticated_apis(sandbox, api):
    minted = sandbox.mint_login_code(unionid="o6_bmasdasdsad6_2sgVt7hMZOPfL")

    response = api.post(LOGIN, {"code": minted["code"]}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["customer"]["openid"] == minted["openid"]
    assert body["customer"]["unionid"] == "o6_bmasdasdsad6_2sgVt7hMZOPfL"
    assert "session_key" not in response.content.decode()
    customer = Customer.objects.get(openid=minted["openid"])
    assert customer.session_key  # kept server side
    assert customer.last_login_at is not None

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
    me = api.get(ME)
    assert me.status_code == 200
    assert me.json()["openid"] == minted["openid"]


def test_login_needs_no_access_token(sandbox, api):
    api.post(LOGIN, {"code": sandbox.mint_login_code()["code"]}, format="json")

    call = sandbox.received("/sns/jscode2session")[0]
    assert "access_token" not in call["query"]
    assert sandbox.received("/cgi-bin/stable_token") == []


def test_logging_in_again_finds_the_same_customer_and_issues_a_new_token(sandbox, api):
    openid = sandbox.mint_login_code()["openid"]
    first = api.post(LOGIN, {"code": sandbox.mint_login_code(openid=openid)["code"]}, format="json").json()
    second = api.post(LOGIN, {"code": sandbox.mint_login_code(openid=openid)["code"]}, format="json").json()

    assert first["customer"]["id"] == second["customer"]["id"]
    assert first["token"] != second["token"]
    assert Customer.objects.filter(openid=openid).count() == 1
    assert CustomerToken.objects.filter(customer__openid=openid).count() == 2


def test_a_reused_code_is_refused(sandbox, api):
    code = sandbox.mint_login_code()["code"]
    assert api.post(LOGIN, {"code": code}, format="json").status_code == 200

    response = api.post(LOGIN, {"code": code}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_login_code"
    assert "wx.login()" in response.json()["message"]


def test_an_unknown_code_is_refused(sandbox, api):
    response = api.post(LOGIN, {"code": "081NotAFakeCodeFromWeChat"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_login_code",
        "message": "The login code is invalid, expired or already used. Call wx.login() again for a new one.",
        "fields": {},
    }
    assert Customer.objects.count() == 0


@pytest.mark.parametrize("payload", [{}, {"code": ""}, {"code": "x" * 129}])
def test_a_missing_or_malformed_code_gets_a_field_error(sandbox, api, payload):
    response = api.post(LOGIN, payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["fields"]) == ["code"]
    assert sandbox.received("/sns/jscode2session") == []


def test_a_blocked_user_is_refused(sandbox, api):
    minted = sandbox.mint_login_code()
    sandbox.block_user(minted["openid"])

    response = api.post(LOGIN, {"code": minted["code"]}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "login_blocked"


def test_wechat_busy_once_is_retried(sandbox, api):
    sandbox.add_fault("/sns/jscode2session", errcode=-1)

    response = api.post(LOGIN, {"code": sandbox.mint_login_code()["code"]}, format="json")

    assert response.status_code == 200
    assert [call["errcode"] for call in sandbox.received("/sns/jscode2session")] == [-1, None]


def test_quick_retries_follow_the_backoff_setting(sandbox, api, settings):
    settings.WECHAT_INTERACTIVE_BACKOFF_SECONDS = (0.01,)  # one retry only
    sandbox.add_fault("/sns/jscode2session", errcode=-1, times=2)

    response = api.post(LOGIN, {"code": sandbox.mint_login_code()["code"]}, format="json")

    assert response.status_code == 503
    assert [call["errcode"] for call in sandbox.received("/sns/jscode2session")] == [-1, -1]


def test_wechat_busy_throughout_gives_503(sandbox, api):
    sandbox.add_fault("/sns/jscode2session", errcode=-1, times=3)

    response = api.post(LOGIN, {"code": sandbox.mint_login_code()["code"]}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "wechat_unavailable"
    assert len(sandbox.received("/sns/jscode2session")) == 3
    assert Customer.objects.count() == 0


def test_wechat_unreachable_gives_503(sandbox, api):
    sandbox.add_fault("/sns/jscode2session", drop=True, times=3)

    response = api.post(LOGIN, {"code": sandbox.mint_login_code()["code"]}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "wechat_unavailable"


def test_login_is_throttled(sandbox, api, monkeypatch):
    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"login": "2/min"})
    statuses = [api.post(LOGIN, {"code": "unknown"}, format="json").status_code for _ in range(3)]

    assert statuses == [400, 400, 429]
    assert len(sandbox.received("/sns/jscode2session")) == 2


@pytest.mark.parametrize(
    "header, code",
    [
        (None, "not_authenticated"),
        ("Bearer not-a-token", "authentication_failed"),
        ("Bearer", "authentication_failed"),
        ("Token abc", "not_authenticated"),
    ],
)
def test_authenticated_apis_refuse_missing_or_bad_tokens(api, header, code):
    if header:
        api.credentials(HTTP_AUTHORIZATION=header)

    response = api.get(ME)

    assert response.status_code == 401
    assert response.json()["code"] == code
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_is_refused(sandbox, api):
    token = api.post(LOGIN, {"code": sandbox.mint_login_code()["code"]}, format="json").json()["token"]
    CustomerToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")

    assert api.get(ME).status_code == 401


def test_a_login_that_times_out_is_not_retried(sandbox, api, settings):
    # WeChat may have spent the code before the answer was lost; a retry would only double the wait.
    settings.WECHAT_HTTP_TIMEOUT = 0.3
    sandbox.add_fault("/sns/jscode2session", delay=1, times=3)

    response = api.post(LOGIN, {"code": sandbox.mint_login_code()["code"]}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "wechat_unavailable"
    assert len(sandbox.received("/sns/jscode2session")) == 1


@pytest.mark.parametrize("errcode", [40125, 40013, 40164, 48001, 41002, 41004])
def test_a_misconfiguration_says_so_and_alerts_operators(sandbox, api, caplog, errcode):
    sandbox.add_fault("/sns/jscode2session", errcode=errcode)

    with caplog.at_level("ERROR", logger="customers.services"):
        response = api.post(LOGIN, {"code": sandbox.mint_login_code()["code"]}, format="json")

    assert response.status_code == 503
    assert response.json() == {
        "code": "wechat_misconfigured",
        "message": "Logging in is unavailable: this service is misconfigured for WeChat. "
        "Its operators have been alerted.",
        "fields": {},
    }
    assert len(sandbox.received("/sns/jscode2session")) == 1  # retrying cannot help
    [record] = [record for record in caplog.records if record.name == "customers.services"]
    assert record.levelname == "ERROR"
    assert f"errcode {errcode}" in record.getMessage()


def test_a_wrong_app_secret_is_reported_without_the_secret(sandbox, api, caplog, settings):
    settings.WECHAT_MINI_PROGRAM_SECRET = "a-wrong-secret-4f1c9e"

    with caplog.at_level("ERROR", logger="customers.services"):
        response = api.post(LOGIN, {"code": sandbox.mint_login_code()["code"]}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "wechat_misconfigured"
    assert "errcode 40125" in caplog.text
    assert "a-wrong-secret-4f1c9e" not in caplog.text


@pytest.mark.parametrize("errcode, level", [(45009, "ERROR"), (45011, "WARNING")])
def test_a_rate_limit_is_not_retried_within_the_request(sandbox, api, caplog, errcode, level):
    # 45009: the app's daily quota is spent; 45011: over a per-minute limit. Neither lifts within a second.
    sandbox.add_fault("/sns/jscode2session", errcode=errcode, times=3)

    with caplog.at_level("WARNING", logger="customers.services"):
        response = api.post(LOGIN, {"code": sandbox.mint_login_code()["code"]}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "wechat_unavailable"
    assert [call["errcode"] for call in sandbox.received("/sns/jscode2session")] == [errcode]
    assert [record.levelname for record in caplog.records if record.name == "customers.services"] == [level]


# --- logging out --------------------------------------------------------------------------------

LOGOUT = "/api/v1/auth/logout"


def _logged_in_token(sandbox, api, openid: str | None = None) -> str:
    code = sandbox.mint_login_code(**({"openid": openid} if openid else {}))["code"]
    return api.post(LOGIN, {"code": code}, format="json").json()["token"]


def test_logout_revokes_the_token_presented_and_only_that_one(sandbox, api):
    phone = _logged_in_token(sandbox, api)
    customer = Customer.objects.get()
    tablet = _logged_in_token(sandbox, api, openid=customer.openid)
    assert CustomerToken.objects.filter(customer=customer).count() == 2

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {phone}")
    logged_out = api.post(LOGOUT)
    again = api.post(LOGOUT)
    me_on_the_phone = api.get(ME)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {tablet}")
    me_on_the_tablet = api.get(ME)

    assert (logged_out.status_code, logged_out.content) == (204, b"")
    assert (again.status_code, again.json()["code"]) == (401, "authentication_failed")
    assert me_on_the_phone.status_code == 401
    assert me_on_the_tablet.status_code == 200
    assert CustomerToken.objects.filter(customer=customer).count() == 1


def test_logout_without_a_token_is_401(api):
    response = api.post(LOGOUT)

    assert (response.status_code, response.json()["code"]) == (401, "not_authenticated")


@pytest.fixture
def logged_in(api):
    customer = Customer.objects.create(openid="o-profile")
    token = "profile-token-0123456789abcdef"
    CustomerToken.objects.create(
        customer=customer, key_digest=CustomerToken.digest(token), expires_at=timezone.now() + timedelta(days=1)
    )
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return customer


def test_the_customer_sets_the_nickname_and_avatar_they_chose(api, logged_in):
    response = api.patch(
        ME, {"nickname": "  王小明 ", "avatar_url": "https://cdn.example.com/a/wang.jpg"}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["nickname"], response.json()["avatar_url"]) == (
        "王小明",
        "https://cdn.example.com/a/wang.jpg",
    )
    logged_in.refresh_from_db()
    assert (logged_in.nickname, logged_in.avatar_url) == ("王小明", "https://cdn.example.com/a/wang.jpg")
    assert api.get(ME).json()["nickname"] == "王小明"


def test_a_profile_change_sends_only_what_changes(api, logged_in):
    api.patch(ME, {"nickname": "王小明", "avatar_url": "https://cdn.example.com/a/wang.jpg"}, format="json")

    response = api.patch(ME, {"nickname": "小明"}, format="json")

    assert (response.json()["nickname"], response.json()["avatar_url"]) == (
        "小明",
        "https://cdn.example.com/a/wang.jpg",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"nickname": "x" * 65}, "nickname"),
        ({"nickname": "line\nbreak"}, "nickname"),
        ({"avatar_url": "http://cdn.example.com/a.jpg"}, "avatar_url"),
        ({"avatar_url": "wxfile://tmp_abc.jpg"}, "avatar_url"),
        ({"avatar_url": "https://" + "a" * 500 + ".com/x.jpg"}, "avatar_url"),
    ],
)
def test_a_bad_nickname_or_avatar_is_a_400_naming_the_field(api, logged_in, body, field):
    response = api.patch(ME, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and field in response.json()["fields"]
    logged_in.refresh_from_db()
    assert (logged_in.nickname, logged_in.avatar_url) == ("", "")


def test_setting_a_profile_needs_a_token(api):
    assert api.patch(ME, {"nickname": "王小明"}, format="json").status_code == 401
