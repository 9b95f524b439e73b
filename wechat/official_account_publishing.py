"""Publishing a draft without notifying followers, and how WeChat says the publication ended.

发布能力: freepublish/submit (no quota; answers a publish_id), 发布状态轮询接口 freepublish/get
and 事件推送发布结果 PUBLISHJOBFINISH (PublishEventInfo): publish_status 0 published, 1 still
publishing, 2 to 6 failed as PUBLISH_STATUS_REASONS says; article_detail lists each article's URL.
"""

from dataclasses import dataclass

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wechat.clients import SharedTokenClient
from wechat.official_account_fields import field_count, field_text, field_value, urls_by_index

PUBLISHED, PUBLISHING = 0, 1
PUBLISH_STATUS_REASONS = {
    1: gettext_lazy("still publishing"),
    2: gettext_lazy("originality check failed"),
    3: gettext_lazy("publishing failed"),
    4: gettext_lazy("rejected by the platform's review"),
    5: gettext_lazy("deleted after publishing"),
    6: gettext_lazy("banned after publishing"),
}


@dataclass(frozen=True)
class PublicationSubmitted:
    publish_id: str


@dataclass(frozen=True)
class PublicationResult:
    """Where a publication stands: freepublish/get's answer, or the PUBLISHJOBFINISH event."""

    publish_id: str
    publish_status: int | None  # None when WeChat's answer carries none we can read
    article_urls: dict[int, str]  # by 1-based index into the draft's articles
    # 发布状态轮询接口 fail_idx: the 1-based numbers of the articles that failed (originality, review).
    fail_idx: tuple[int, ...] = ()

    @property
    def published(self) -> bool:
        return self.publish_status == PUBLISHED

    @property
    def pending(self) -> bool:
        """Not ended yet, or WeChat did not say: ask again later."""
        return self.publish_status in (None, PUBLISHING)

    @property
    def failure_reason(self) -> str:
        words = PUBLISH_STATUS_REASONS.get(self.publish_status) or _("publishing failed")
        return f"publish_status {self.publish_status}: {words}"


def publication_submit(client: SharedTokenClient, *, media_id: str) -> PublicationSubmitted:
    return PublicationSubmitted(publish_id=str(client.freepublish.submit(media_id)["publish_id"]))


def publication_get(client: SharedTokenClient, *, publish_id: str) -> PublicationResult:
    return _publication_result(client.freepublish.get(publish_id), publish_id=publish_id)


def publication_result_from_message(message: dict) -> PublicationResult:
    """The PUBLISHJOBFINISH event's PublishEventInfo; ValueError without one naming a publish_id."""
    info = field_value(message, "PublishEventInfo")
    if not isinstance(info, dict) or not field_text(info, "publish_id"):
        raise ValueError("PUBLISHJOBFINISH without a PublishEventInfo naming a publish_id")
    return _publication_result(info, publish_id=field_text(info, "publish_id"))


def _publication_result(fields: dict, *, publish_id: str) -> PublicationResult:
    return PublicationResult(
        publish_id=publish_id,
        publish_status=field_count(fields, "publish_status"),
        article_urls=urls_by_index(field_value(fields, "article_detail"), index_name="idx", url_name="article_url"),
        fail_idx=_numbers(field_value(fields, "fail_idx")),
    )


def _numbers(value: object) -> tuple[int, ...]:
    """fail_idx as JSON gives it (a list of numbers) or as XML does (one element a number, repeated)."""
    values = value if isinstance(value, list) else [value]
    return tuple(sorted({int(item) for item in values if isinstance(item, str | int) and str(item).strip().isdigit()}))
