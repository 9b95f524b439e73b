"""Mass sends in the sandbox over HTTP (群发接口和原创校验), and MASSSENDJOBFINISH read into its dataclass.

The shared sample is read through /wechat/oa/<appid>/ in test_official_account_callbacks.py.
"""

import json
import secrets

import pytest

from tests.wechat.images import image_bytes
from wechat.clients import client_for_official_account
from wechat.errors import WeChatPermanentError, WeChatRateLimited
from wechat.models import OfficialAccount
from wechat.official_account_drafts import DraftArticle, draft_add
from wechat.official_account_mass_send import (
    CopyrightCheckResult,
    MassSendAccepted,
    MassSendJobResult,
    MassSendQuotaSpent,
    MassSendState,
    PreviewRecipientRefused,
    job_status_reason,
    mass_send_job_result_from_message,
    mass_send_preview,
    mass_send_state,
    mass_send_to_all,
    mass_send_to_openids,
    mass_send_to_tag,
)
from wechat.official_account_media import thumb_add

SENDALL = "/cgi-bin/message/mass/sendall"


def draft_media_id(client) -> str:
    thumb = thumb_add(client, jpeg=image_bytes("JPEG")).media_id
    article = DraftArticle(
        title="Autumn teas",
        author="",
        digest="",
        content="<p>Oolong.</p>",
        content_source_url="",
        thumb_media_id=thumb,
        need_open_comment=False,
        only_fans_can_comment=False,
    )
    return draft_add(client, articles=[article]).media_id


@pytest.fixture
def media_id(account_client) -> str:
    return draft_media_id(account_client)


def test_a_send_to_all_is_accepted_with_its_msg_id(sandbox, registered_account, account_client, media_id):
    sandbox.add_followers(registered_account.appid, count=3)

    accepted = mass_send_to_all(account_client, media_id=media_id, clientmsgid="calls-all-1")

    [send] = sandbox.mass_sends(registered_account.appid)["sends"]
    assert accepted == MassSendAccepted(msg_id=str(send["msg_id"]), msg_data_id=accepted.msg_data_id)
    assert not accepted.already_accepted
    assert send["audience"] == {"is_to_all": True}
    body = json.loads(sandbox.received(SENDALL)[0]["body"])
    assert (body["clientmsgid"], body["mpnews"], body["msgtype"]) == ("calls-all-1", {"media_id": media_id}, "mpnews")


def test_a_repeated_clientmsgid_names_the_send_wechat_accepted_before(
    sandbox, registered_account, account_client, media_id
):
    first = mass_send_to_all(account_client, media_id=media_id, clientmsgid="calls-repeat-1")

    again = mass_send_to_all(account_client, media_id=media_id, clientmsgid="calls-repeat-1")

    assert [call["errcode"] for call in sandbox.received(SENDALL)] == [None, 45065]
    assert (again.msg_id, again.already_accepted) == (first.msg_id, True)
    assert sandbox.mass_sends(registered_account.appid)["per_clientmsgid"] == {"calls-repeat-1": 1}


def test_a_send_to_a_tag_and_one_to_openids(sandbox, registered_account, account_client, media_id):
    tag_id = sandbox.create_tag(registered_account.appid, "tea lovers")
    openids = sandbox.add_followers(registered_account.appid, count=4, tag_ids=[tag_id])["openids"]

    to_tag = mass_send_to_tag(account_client, media_id=media_id, tag_id=tag_id, clientmsgid="calls-tag-1")
    to_openids = mass_send_to_openids(
        account_client, media_id=media_id, openids=tuple(openids[:3]), clientmsgid="calls-openids-1"
    )

    sends = sandbox.mass_sends(registered_account.appid)["sends"]
    assert sends[0]["audience"] == {"is_to_all": False, "tag_id": tag_id}
    assert sends[1]["audience"]["touser_count"] == 3
    assert [str(send["msg_id"]) for send in sends] == [to_tag.msg_id, to_openids.msg_id]


def test_a_spent_quota_is_its_own_permanent_error(sandbox):
    account = OfficialAccount(appid="wx" + secrets.token_hex(8), app_secret="calls-secret")
    sandbox.register_app(account.appid, account.app_secret, "official_account", account_type="subscription")
    client = client_for_official_account(account)
    media_id = draft_media_id(client)
    mass_send_to_all(client, media_id=media_id, clientmsgid="calls-quota-1")  # a subscription account's one a day

    with pytest.raises(MassSendQuotaSpent) as refused:
        mass_send_to_all(client, media_id=media_id, clientmsgid="calls-quota-2")

    assert isinstance(refused.value, WeChatPermanentError) and refused.value.errcode == 45028


def test_a_clientmsgid_retried_too_fast_is_rate_limited(sandbox, account_client, media_id):
    sandbox.add_fault(SENDALL, errcode=45066, errmsg="same clientmsgid retry too fast")

    with pytest.raises(WeChatRateLimited) as limited:
        mass_send_to_all(account_client, media_id=media_id, clientmsgid="calls-fast-1")

    assert limited.value.errcode == 45066 and limited.value.retry_after == 60
    assert str(limited.value).startswith("WeChat error 45066: same clientmsgid retry too fast")


def test_other_refusals_stay_permanent_errors_with_wechats_code(sandbox, account_client, media_id):
    with pytest.raises(WeChatPermanentError) as refused:
        mass_send_to_tag(account_client, media_id=media_id, tag_id=999, clientmsgid="calls-no-tag-1")

    assert type(refused.value) is WeChatPermanentError and refused.value.errcode == 45159


def test_a_preview_reaches_one_follower_without_quota(sandbox, registered_account, account_client, media_id):
    [openid] = sandbox.add_followers(registered_account.appid, count=1)["openids"]

    mass_send_preview(account_client, media_id=media_id, recipient=openid)

    sent = sandbox.mass_sends(registered_account.appid)
    assert sent["count"] == 0
    assert [(preview["to"], preview["media_id"]) for preview in sent["previews"]] == [(openid, media_id)]


def test_a_preview_to_someone_not_following_names_the_recipient(account_client, media_id):
    with pytest.raises(PreviewRecipientRefused) as refused:
        mass_send_preview(account_client, media_id=media_id, recipient="o" + "x" * 27)

    assert refused.value.errcode == 40003


@pytest.mark.parametrize(("outcome", "msg_status"), [("send success", "SEND_SUCCESS"), ("send fail", "SEND_FAIL")])
def test_mass_get_tells_how_a_send_ended(sandbox, registered_account, account_client, media_id, outcome, msg_status):
    sandbox.end_next_mass_send_with(registered_account.appid, outcome)
    accepted = mass_send_to_all(account_client, media_id=media_id, clientmsgid="calls-get-1")

    state = mass_send_state(account_client, msg_id=accepted.msg_id)

    assert state == MassSendState(msg_id=accepted.msg_id, msg_status=msg_status)
    assert state.job_status == outcome


@pytest.mark.parametrize(("msg_status", "job_status"), [("DELETE", "send success"), ("SENDING", None), ("", None)])
def test_a_deleted_send_had_been_sent_and_one_still_sending_has_not_ended(msg_status, job_status):
    assert MassSendState(msg_id="1", msg_status=msg_status).job_status == job_status


# --- MASSSENDJOBFINISH -----------------------------------------------------------------------------


def finish_message(**changes) -> dict:
    """The shared sample's fields as the inbox reads XML: text values, one <item> as a dict."""
    message = {
        "ToUserName": "gh_4d00ed8d6399",
        "FromUserName": "oV5CrjpxgaGXNHIQigzNlgLTnwic",
        "CreateTime": "1763881200",
        "MsgType": "event",
        "Event": "MASSSENDJOBFINISH",
        "MsgID": "1000001625",
        "Status": "send success",
        "TotalCount": "100",
        "FilterCount": "80",
        "SentCount": "75",
        "ErrorCount": "5",
        "CopyrightCheckResult": {"Count": "0", "ResultList": "", "CheckState": "1"},
        "ArticleUrlResult": {
            "Count": "2",
            "ResultList": {
                "item": [
                    {"ArticleIdx": "1", "ArticleUrl": "https://mp.weixin.qq.com/s?idx=1"},
                    {"ArticleIdx": "2", "ArticleUrl": "https://mp.weixin.qq.com/s?idx=2"},
                ]
            },
        },
    }
    return {**message, **changes}


def test_massjobfinish_is_read_with_counts_as_numbers_and_urls_by_article():
    message = finish_message()

    result = mass_send_job_result_from_message(message)

    assert result == MassSendJobResult(
        msg_id="1000001625",
        status="send success",
        total_count=100,
        filter_count=80,
        sent_count=75,
        error_count=5,
        article_urls={1: "https://mp.weixin.qq.com/s?idx=1", 2: "https://mp.weixin.qq.com/s?idx=2"},
        copyright_check=CopyrightCheckResult(count=0, check_state=1),
        message=message,
    )
    assert result.message is message  # kept as WeChat pushed it
    assert (result.succeeded, result.status_reason) == (True, "")


def test_massjobfinish_msg_id_is_read_whatever_its_case():
    message = finish_message()
    message["MsgId"] = message.pop("MsgID")

    assert mass_send_job_result_from_message(message).msg_id == "1000001625"


def test_a_failed_massjobfinish_has_its_reason_and_no_urls():
    message = finish_message(Status="err(20001)", SentCount="0", ErrorCount="100")
    del message["ArticleUrlResult"], message["CopyrightCheckResult"]

    result = mass_send_job_result_from_message(message)

    assert (result.succeeded, result.status_reason) == (False, "err(20001): suspected political content")
    assert (result.sent_count, result.error_count, result.article_urls, result.copyright_check) == (0, 100, {}, None)


@pytest.mark.parametrize("msg_id", [None, "", "not-a-number"])
def test_massjobfinish_without_a_usable_msg_id_is_unusable(msg_id):
    message = finish_message(MsgID=msg_id)

    with pytest.raises(ValueError, match="MsgID"):
        mass_send_job_result_from_message(message)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("send success", ""),
        ("send fail", "WeChat could not send it"),
        ("err(10001)", "err(10001): suspected advertising"),
        ("err(20001)", "err(20001): suspected political content"),
        ("err(30002)", "err(30002): originality check: judged not sendable"),
        ("err(40001)", "err(40001): an administrator rejected the send"),
        ("err(40002)", "err(40002): no administrator confirmed the send within 30 minutes"),
        ("err(99999)", "err(99999): refused by WeChat for a reason it did not name"),
    ],
)
def test_job_statuses_in_words(status, reason):
    assert job_status_reason(status) == reason
