"""/wechat/oa/<appid>/: pushes from the WeChat sandbox over real HTTP, and hostile requests made by hand.

Rules (公众号文档): 接入概述 (GET verification, signature), 消息加解密说明 (compatible/safe
modes), 接收事件推送 (answer "success"; dedupe events by FromUserName + CreateTime).
"""

import time
from urllib.parse import urlencode

import pytest
import requests
from django.core.cache import cache

from wechat.models import OfficialAccount
from wechat.official_account_followers import FollowerSubscriptionChange
from wechat.official_account_mass_send import CopyrightCheckResult, MassSendJobResult
from wechat.signals import official_account_event_received, official_account_message_received
from wechat_sandbox.official_account_push import encrypt, message_xml, signature

APPID = "wx00000000000000aa"
TOKEN = "callbackToken42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
TIMEOUT = 10


@pytest.fixture
def sample(wechat_sample) -> bytes:
    return wechat_sample("massjobfinish-sample.xml")


@pytest.fixture
def received():
    messages: list[dict] = []

    def collect(sender, account, message, **kwargs):
        messages.append({"appid": account.appid, **message})

    official_account_message_received.connect(collect, weak=False)
    yield messages
    official_account_message_received.disconnect(collect)


@pytest.fixture
def received_events():
    events: list[tuple[type, str, object]] = []

    def collect(sender, account, event, **kwargs):
        events.append((sender, account.appid, event))

    official_account_event_received.connect(collect, weak=False)
    yield events
    official_account_event_received.disconnect(collect)


def make_account(mode: str = "plain") -> OfficialAccount:
    return OfficialAccount.objects.create(
        name="Tea House",
        appid=APPID,
        app_secret="oa-secret",
        account_type=OfficialAccount.AccountType.SUBSCRIPTION,
        callback_token=TOKEN,
        encoding_aes_key=AES_KEY,
        message_mode=mode,
    )


def signed_query(*extra: str, timestamp: int | None = None, **params) -> dict:
    timestamp_text = str(int(time.time()) if timestamp is None else timestamp)
    nonce = "12345"
    return {
        "timestamp": timestamp_text,
        "nonce": nonce,
        "signature": signature(TOKEN, timestamp_text, nonce),
        **({"msg_signature": signature(TOKEN, timestamp_text, nonce, *extra)} if extra else {}),
        **params,
    }


def post(client, body: str | bytes, query: dict, appid: str = APPID):
    return client.post(f"/wechat/oa/{appid}/?{urlencode(query)}", data=body, content_type="text/xml")


# --- through the sandbox -------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_a_follower_event_from_the_sandbox_reaches_our_receivers_once(
    mode, live_server, sandbox_server, sandbox, received
):
    make_account(mode)
    callback = {
        "url": f"{live_server.url}/wechat/oa/{APPID}/",
        "token": TOKEN,
        "mode": mode,
        "encoding_aes_key": AES_KEY,
    }
    sandbox.register_app(APPID, "oa-secret", "official_account", callback=callback)
    try:
        answer = requests.post(
            f"{sandbox_server.url}sandbox/official-account/events",
            json={"appid": APPID, "openid": "o-follower-7", "event": "subscribe"},
            timeout=TIMEOUT,
        )
        assert answer.status_code == 201
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            deliveries = requests.get(f"{sandbox_server.url}sandbox/outbox", timeout=TIMEOUT).json()["deliveries"]
            if deliveries[0]["state"] in {"delivered", "failed"}:
                break
            time.sleep(0.05)
    finally:
        sandbox.remove_app(APPID)

    [delivery] = deliveries
    assert delivery["state"] == "delivered"
    assert delivery["attempts"][0]["answer"] == "success"
    [message] = received
    assert message["appid"] == APPID
    assert message["Event"] == "subscribe"
    assert message["FromUserName"] == "o-follower-7"


# --- by hand ----------------------------------------------------------------------


@pytest.mark.django_db
def test_url_verification_echoes_only_when_signed(client):
    make_account()

    verified = client.get(f"/wechat/oa/{APPID}/", signed_query(echostr="hello-wechat"))
    forged = client.get(f"/wechat/oa/{APPID}/", {**signed_query(echostr="x"), "signature": "0" * 40})

    assert verified.status_code == 200
    assert verified.content == b"hello-wechat"
    assert forged.status_code == 403


@pytest.mark.django_db
def test_the_shared_massjobfinish_sample_is_parsed_with_its_nested_results(sample, client, received):
    make_account()

    answer = post(client, sample, signed_query())

    assert answer.status_code == 200
    assert answer.content == b"success"
    [message] = received
    assert message["Event"] == "MASSSENDJOBFINISH"
    assert message["MsgID"] == "1000001625"
    assert (message["TotalCount"], message["FilterCount"], message["SentCount"], message["ErrorCount"]) == (
        "100",
        "80",
        "75",
        "5",
    )
    article = message["ArticleUrlResult"]["ResultList"]["item"]
    assert article["ArticleUrl"].startswith("https://mp.weixin.qq.com/s?")


@pytest.mark.django_db
@pytest.mark.parametrize("msg_id_element", ["MsgID", "MsgId"])
def test_the_shared_massjobfinish_sample_is_told_as_its_result_once(
    sample, client, received, received_events, msg_id_element
):
    make_account()
    body = sample.replace(b"MsgID>", f"{msg_id_element}>".encode())

    answers = [post(client, body, signed_query()) for _ in range(2)]

    assert [answer.content for answer in answers] == [b"success"] * 2
    [(sender, appid, result)] = received_events
    assert (sender, appid) == (MassSendJobResult, APPID)
    assert result == MassSendJobResult(
        msg_id="1000001625",
        status="send success",
        total_count=100,
        filter_count=80,
        sent_count=75,
        error_count=5,
        article_urls={1: "https://mp.weixin.qq.com/s?__biz=MzA4MDExMDEyMw==&mid=1000001625&idx=1"},
        copyright_check=CopyrightCheckResult(count=0, check_state=1),
        message=result.message,
    )
    assert result.message == {key: value for key, value in received[0].items() if key != "appid"}


@pytest.mark.django_db
def test_a_subscribe_event_is_told_as_a_subscription_change(client, received_events):
    make_account()
    fields = {"FromUserName": "oFollower", "CreateTime": 1763881200, "MsgType": "event", "Event": "subscribe"}

    post(client, message_xml(fields), signed_query())

    [(sender, _, change)] = received_events
    assert sender is FollowerSubscriptionChange and (change.openid, change.subscribed) == ("oFollower", True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"MsgType": "text", "Content": "hello", "MsgId": "42", "CreateTime": 1763881200},  # a message, not an event
        {"MsgType": "event", "Event": "CLICK", "EventKey": "menu", "CreateTime": 1763881200},  # no app acts on it
        {"MsgType": "event", "Event": "subscribe", "CreateTime": "soon"},  # unusable: answered, told to no app
        {"MsgType": "event", "Event": "MASSSENDJOBFINISH", "Status": "send success", "CreateTime": 1763881200},
    ],
)
def test_other_pushes_are_answered_without_an_event(client, received, received_events, fields):
    make_account()

    answer = post(client, message_xml({"FromUserName": "oFollower", **fields}), signed_query())

    assert (answer.status_code, answer.content) == (200, b"success")
    assert len(received) == 1 and received_events == []


@pytest.mark.django_db
def test_a_repeated_push_is_answered_but_told_once(sample, client, received):
    make_account()
    body = sample

    first = post(client, body, signed_query())
    again = post(
        client,
        body,
        {**signed_query(), "nonce": "67890"} | {"signature": signature(TOKEN, str(int(time.time())), "67890")},
    )

    assert first.status_code == again.status_code == 200
    assert len(received) == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query_change, status",
    [
        ({"signature": "f" * 40}, 403),
        ({"signature": ""}, 400),
        ({"timestamp": "yesterday"}, 400),
    ],
)
def test_unsigned_or_badly_signed_pushes_are_refused_and_told_to_no_one(sample, client, received, query_change, status):
    make_account()

    refused = post(client, sample, {**signed_query(), **query_change})

    assert refused.status_code == status
    assert received == []


@pytest.mark.django_db
def test_an_old_signed_request_cannot_be_replayed(sample, client, received):
    make_account()

    refused = post(client, sample, signed_query(timestamp=int(time.time()) - 3600))

    assert refused.status_code == 403
    assert received == []


@pytest.mark.django_db
def test_a_signed_request_dated_more_than_five_minutes_ahead_is_refused_like_an_old_one(sample, client, received):
    make_account()

    refused = post(client, sample, signed_query(timestamp=int(time.time()) + 301 + 5))
    within_skew = post(client, sample, signed_query(timestamp=int(time.time()) + 240))

    assert refused.status_code == 403
    assert within_skew.status_code == 200
    assert len(received) == 1


@pytest.mark.django_db
def test_a_safe_mode_account_refuses_plain_pushes(sample, client, received):
    make_account("safe")

    refused = post(client, sample, signed_query())

    assert refused.status_code == 403
    assert received == []


@pytest.mark.django_db
def test_an_encrypted_push_with_a_tampered_ciphertext_is_refused(sample, client, received):
    make_account("safe")
    encrypted = encrypt(sample, encoding_aes_key=AES_KEY, appid=APPID)
    tampered = ("A" if encrypted[0] != "A" else "B") + encrypted[1:]
    body = f"<xml><ToUserName>gh_x</ToUserName><Encrypt><![CDATA[{tampered}]]></Encrypt></xml>"

    refused = post(client, body, signed_query(encrypted, encrypt_type="aes"))  # signed over the original

    assert refused.status_code == 403
    assert received == []


@pytest.mark.django_db
def test_an_encrypted_push_for_another_app_is_refused(sample, client, received):
    make_account("safe")
    encrypted = encrypt(sample, encoding_aes_key=AES_KEY, appid="wx00000000000000bb")
    body = f"<xml><ToUserName>gh_x</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"

    refused = post(client, body, signed_query(encrypted, encrypt_type="aes"))

    assert refused.status_code == 403
    assert received == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, status",
    [
        (
            '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">'
            '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;">]><xml><Content>&lol3;</Content></xml>',
            400,
        ),
        ('<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Content>&e;</Content></xml>', 400),
        ("<xml><unclosed></xml>", 400),
        ("not xml at all", 400),
        ("<xml>" + "<a>x</a>" * 20_000 + "</xml>", 413),
    ],
    ids=["billion-laughs", "external-entity", "malformed", "not-xml", "too-large"],
)
def test_hostile_bodies_are_refused_without_a_500(client, received, body, status):
    make_account()

    refused = post(client, body, signed_query())

    assert refused.status_code == status
    assert received == []


@pytest.mark.django_db
def test_unknown_accounts_and_other_methods_are_refused(sample, client):
    make_account()

    assert post(client, sample, signed_query(), appid="wx00000000000000ff").status_code == 404
    assert client.put(f"/wechat/oa/{APPID}/").status_code == 405


# --- the account in the database and the admin --------------------------------------


@pytest.mark.django_db
def test_secrets_are_encrypted_at_rest():
    from django.db import connection

    account = make_account()
    with connection.cursor() as cursor:
        cursor.execute("SELECT app_secret, encoding_aes_key FROM wechat_officialaccount WHERE id = %s", [account.pk])
        stored_secret, stored_key = cursor.fetchone()

    assert "oa-secret" not in stored_secret
    assert AES_KEY not in stored_key
    assert OfficialAccount.objects.get(pk=account.pk).app_secret == "oa-secret"


@pytest.fixture
def admin_client_logged_in(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-for-tests-only"))
    return client


def admin_form(**fields) -> dict:
    return {
        "name": "Tea House",
        "appid": APPID,
        "account_type": "service",
        "app_secret": "first-secret",
        "callback_token": TOKEN,
        "encoding_aes_key": AES_KEY,
        "message_mode": "safe",
        **fields,
    }


@pytest.mark.django_db
def test_staff_add_an_account_and_never_see_its_secrets_again(admin_client_logged_in):
    added = admin_client_logged_in.post("/admin/wechat/officialaccount/add/", admin_form())
    assert added.status_code == 302
    account = OfficialAccount.objects.get(appid=APPID)

    page = admin_client_logged_in.get(f"/admin/wechat/officialaccount/{account.pk}/change/").content.decode()

    assert "first-secret" not in page
    assert AES_KEY not in page
    assert f"/wechat/oa/{APPID}/" in page


@pytest.mark.django_db
def test_a_blank_secret_keeps_the_current_one_and_a_new_one_drops_the_cached_token(
    admin_client_logged_in, django_capture_on_commit_callbacks
):
    admin_client_logged_in.post("/admin/wechat/officialaccount/add/", admin_form())
    account = OfficialAccount.objects.get(appid=APPID)
    cache.set(f"wechat:access_token:{APPID}", "token-fetched-with-the-old-secret")
    change_url = f"/admin/wechat/officialaccount/{account.pk}/change/"

    with django_capture_on_commit_callbacks(execute=True):
        admin_client_logged_in.post(change_url, admin_form(app_secret="", encoding_aes_key="", name="Tea House 2"))
    account.refresh_from_db()
    assert (account.name, account.app_secret, account.encoding_aes_key) == ("Tea House 2", "first-secret", AES_KEY)
    assert cache.get(f"wechat:access_token:{APPID}") == "token-fetched-with-the-old-secret"

    with django_capture_on_commit_callbacks(execute=True):
        admin_client_logged_in.post(change_url, admin_form(app_secret="second-secret", encoding_aes_key=""))
    account.refresh_from_db()
    assert account.app_secret == "second-secret"
    assert cache.get(f"wechat:access_token:{APPID}") is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, field_name",
    [
        ({"app_secret": ""}, "app_secret"),
        ({"encoding_aes_key": "too-short"}, "encoding_aes_key"),
        ({"appid": "not-an-appid"}, "appid"),
        ({"callback_token": "a!"}, "callback_token"),
    ],
)
def test_bad_account_input_is_a_form_error(admin_client_logged_in, fields, field_name):
    answer = admin_client_logged_in.post("/admin/wechat/officialaccount/add/", admin_form(**fields))

    assert answer.status_code == 200
    assert field_name in answer.context["adminform"].form.errors
    assert not OfficialAccount.objects.exists()
