"""Publishing a draft without notifying followers, and how WeChat says the publication ended.

发布能力: freepublish/submit (no quota; answers a publish_id), 发布状态轮询接口 freepublish/get
and 事件推送发布结果 PUBLISHJOBFINISH (PublishEventInfo): publish_status 0 published, 1 still
publishing, 2 to 6 failed as PUBLISH_STATUS_REASONS says; article_detail lists each article's URL.
"""

from dataclasses import dataclass

from wechat.clients import SharedTokenClient
from wechat.official_account_fields import field_count, field_text, field_value, urls_by_index

PUBLISHED, PUBLISHING = 0, 1
PUBLISH_STATUS_REASONS = {
    1: "still publishing",
    2: "originality check failed",
    3: "publishing failed",
    4: "rejected by the platform's review",
    5: "deleted after publishing",
    6: "banned after publishing",
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

    @property
    def published(self) -> bool:
        return self.publish_status == PUBLISHED

    @property
    def pending(self) -> bool:
        """Not ended yet, or WeChat did not say: ask again later."""
        return self.publish_status in (None, PUBLISHING)

    @property
    def failure_reason(self) -> str:
        words = PUBLISH_STATUS_REASONS.get(self.publish_status, "publishing failed")
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
    )
