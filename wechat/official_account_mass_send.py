"""Mass sends of an Official Account's drafts, and how WeChat says each one ended.

群发接口和原创校验: message/mass/sendall (all followers, or one tag), message/mass/send (2 to
10,000 openids), message/mass/preview (one follower, no quota) and message/mass/get. A
`clientmsgid` WeChat has seen within 24 hours is refused with 45065 and the msg_id of the
send it accepted then; 45066 means the first try with it is still being taken; 45028 that
the account's mass-send quota for the period is spent. 事件推送群发结果: MASSSENDJOBFINISH,
pushed when a job ends, with Status "send success", "send fail" or err(N) and the counts.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wechat.clients import SharedTokenClient
from wechat.errors import WeChatError, WeChatPermanentError, WeChatRateLimited
from wechat.official_account_fields import field_count, field_text, field_value, urls_by_index

logger = logging.getLogger(__name__)

QUOTA_SPENT = 45028
CLIENTMSGID_EXISTS = 45065
CLIENTMSGID_RETRY_TOO_FAST = 45066
# Preview refusals that name the recipient: not a follower (40003), not a valid WeChat id (40132).
PREVIEW_RECIPIENT_ERRCODES = frozenset({40003, 40132})

SEND_SUCCESS = "send success"
SEND_FAIL = "send fail"
# 事件推送群发结果, Status err(N): why WeChat stopped a mass send after accepting it.
ERR_STATUS_REASONS = {
    10001: gettext_lazy("suspected advertising"),
    20001: gettext_lazy("suspected political content"),
    20002: gettext_lazy("suspected pornography"),
    20004: gettext_lazy("suspected social content"),
    20006: gettext_lazy("suspected criminal content"),
    20008: gettext_lazy("suspected fraud"),
    20013: gettext_lazy("suspected copyright infringement"),
    21000: gettext_lazy("other suspected violation"),
    22000: gettext_lazy("suspected mutual promotion"),
    30001: gettext_lazy("originality check failed with a system error, and reposts were not to be sent"),
    30002: gettext_lazy("originality check: judged not sendable"),
    30003: gettext_lazy("originality check: judged a repost, and reposts were not to be sent"),
    40001: gettext_lazy("an administrator rejected the send"),
    40002: gettext_lazy("no administrator confirmed the send within 30 minutes"),
}
# 查询群发消息发送状态 (message/mass/get): msg_status → the MASSSENDJOBFINISH Status it ends with.
# A deleted send had been sent. SENDING (e.g. awaiting an administrator's confirmation) has not ended.
MASS_GET_STATUSES = {"SEND_SUCCESS": SEND_SUCCESS, "SEND_FAIL": SEND_FAIL, "DELETE": SEND_SUCCESS}


class MassSendQuotaSpent(WeChatPermanentError):
    """45028: no mass send left in this period, perhaps spent in WeChat's own console."""


class PreviewRecipientRefused(WeChatPermanentError):
    """The preview's recipient cannot receive it: not a follower, or no such WeChat id."""


@dataclass(frozen=True)
class MassSendAccepted:
    msg_id: str
    msg_data_id: str
    # WeChat had accepted this clientmsgid before (45065) and named that send: nothing was sent now.
    already_accepted: bool = False


@dataclass(frozen=True)
class MassSendState:
    """message/mass/get's answer."""

    msg_id: str
    msg_status: str  # SEND_SUCCESS, SENDING, SEND_FAIL or DELETE

    @property
    def job_status(self) -> str | None:
        """The MASSSENDJOBFINISH Status the send ended with, or None while it has not ended."""
        return MASS_GET_STATUSES.get(self.msg_status)


@dataclass(frozen=True)
class CopyrightCheckResult:
    count: int | None  # articles checked
    # The whole send's originality check: 1 not judged a repost, 2 judged one and sendable,
    # 3 the check failed and reposts were not to be sent.
    check_state: int | None


@dataclass(frozen=True)
class MassSendJobResult:
    """A MASSSENDJOBFINISH event: how one accepted mass send ended."""

    msg_id: str
    status: str  # SEND_SUCCESS, SEND_FAIL or "err(N)"
    total_count: int | None
    filter_count: int | None  # followers it was meant for after WeChat's filtering
    sent_count: int | None
    error_count: int | None
    article_urls: dict[int, str]  # by 1-based index into the draft's articles; none unless sent
    copyright_check: CopyrightCheckResult | None
    message: dict = field(compare=False, repr=False)  # the event as WeChat pushed it, for keeping

    @property
    def succeeded(self) -> bool:
        return self.status == SEND_SUCCESS

    @property
    def status_reason(self) -> str:
        return job_status_reason(self.status)


def job_status_reason(status: str) -> str:
    """A MASSSENDJOBFINISH Status in words: "" for success, the err(N) reason, or "send fail"."""
    if status == SEND_SUCCESS:
        return ""
    if status.startswith("err(") and status.endswith(")") and status[4:-1].isdigit():
        code = int(status[4:-1])
        words = ERR_STATUS_REASONS.get(code) or _("refused by WeChat for a reason it did not name")
        return f"{status}: {words}"
    return _("WeChat could not send it") if status == SEND_FAIL else status


# --- calls ---------------------------------------------------------------------------------------


def mass_send_to_all(client: SharedTokenClient, *, media_id: str, clientmsgid: str) -> MassSendAccepted:
    return _accepted(lambda: client.message.send_mass_article(media_id, is_to_all=True, client_msg_id=clientmsgid))


def mass_send_to_tag(client: SharedTokenClient, *, media_id: str, tag_id: int, clientmsgid: str) -> MassSendAccepted:
    return _accepted(lambda: client.message.send_mass_article(media_id, tag_or_users=tag_id, client_msg_id=clientmsgid))


def mass_send_to_openids(
    client: SharedTokenClient, *, media_id: str, openids: Sequence[str], clientmsgid: str
) -> MassSendAccepted:
    """message/mass/send to 2 to 10,000 openids (service accounts only)."""
    return _accepted(
        lambda: client.message.send_mass_article(media_id, tag_or_users=list(openids), client_msg_id=clientmsgid)
    )


def mass_send_preview(client: SharedTokenClient, *, media_id: str, recipient: str) -> None:
    """Send the draft to one follower, by openid or WeChat id, to check on a phone: uses no quota."""
    try:
        client.message.send_mass_article(media_id, tag_or_users=recipient, preview=True)
    except WeChatError as error:
        if error.errcode in PREVIEW_RECIPIENT_ERRCODES:
            raise _reclassified(error, PreviewRecipientRefused) from error
        raise


def mass_send_state(client: SharedTokenClient, *, msg_id: str) -> MassSendState:
    answer = client.message.get_mass(msg_id)
    return MassSendState(msg_id=msg_id, msg_status=str(answer.get("msg_status", "")))


def _accepted(send: Callable[[], dict]) -> MassSendAccepted:
    try:
        answer = send()
    except WeChatError as error:
        if error.errcode == CLIENTMSGID_EXISTS and error.body.get("msg_id"):
            return MassSendAccepted(
                msg_id=str(error.body["msg_id"]),
                msg_data_id=str(error.body.get("msg_data_id", "")),
                already_accepted=True,
            )
        if error.errcode == CLIENTMSGID_RETRY_TOO_FAST:
            raise _reclassified(error, WeChatRateLimited) from error  # retry after a minute
        if error.errcode == QUOTA_SPENT:
            raise _reclassified(error, MassSendQuotaSpent) from error
        raise
    return MassSendAccepted(msg_id=str(answer["msg_id"]), msg_data_id=str(answer.get("msg_data_id", "")))


def _reclassified(error: WeChatError, error_class: type[WeChatError]) -> WeChatError:
    # WeChat's own words when it gave them; else what the first error said (without its "WeChat error N: ").
    message = str(error.body.get("errmsg") or str(error).removeprefix(f"WeChat error {error.errcode}: "))
    return error_class(message, errcode=error.errcode, body=error.body)


# --- MASSSENDJOBFINISH ---------------------------------------------------------------------------


def mass_send_job_result_from_message(message: dict) -> MassSendJobResult:
    """The MASSSENDJOBFINISH event's fields (MsgID read whatever its case); ValueError without a usable MsgID."""
    msg_id = field_text(message, "MsgID")
    if not msg_id.isdigit():
        raise ValueError("MASSSENDJOBFINISH without a MsgID")
    copyright_check = field_value(message, "CopyrightCheckResult")
    article_urls = field_value(message, "ArticleUrlResult")
    return MassSendJobResult(
        msg_id=msg_id,
        status=field_text(message, "Status"),
        total_count=field_count(message, "TotalCount"),
        filter_count=field_count(message, "FilterCount"),
        sent_count=field_count(message, "SentCount"),
        error_count=field_count(message, "ErrorCount"),
        article_urls=urls_by_index(
            field_value(article_urls, "ResultList") if isinstance(article_urls, dict) else None,
            index_name="ArticleIdx",
            url_name="ArticleUrl",
        ),
        copyright_check=(
            CopyrightCheckResult(
                count=field_count(copyright_check, "Count"), check_state=field_count(copyright_check, "CheckState")
            )
            if isinstance(copyright_check, dict)
            else None
        ),
        message=message,
    )
