"""Images an Official Account's articles use, uploaded to WeChat.

素材管理: 上传图文消息内的图片获取URL (media/uploadimg: jpg/png under 1 MB, answers a URL
that draft content may show; other image URLs are removed from drafts) and 新增永久素材
(material/add_material?type=thumb: a JPG of at most 64 KB, answers the media_id a draft
article's thumb_media_id names). Errors arrive as wechat.errors' transient/permanent split.
"""

from dataclasses import dataclass

from wechat.clients import SharedTokenClient


@dataclass(frozen=True)
class InlineImageUploaded:
    url: str  # on mmbiz.qpic.cn, for <img src> in a draft's content


@dataclass(frozen=True)
class ThumbAdded:
    media_id: str
    url: str


def inline_image_upload(
    client: SharedTokenClient, *, filename: str, content: bytes, content_type: str
) -> InlineImageUploaded:
    """Upload an image shown inside an article; WeChat reads its type from the file name's extension too."""
    return InlineImageUploaded(url=client.media.upload_image((filename, content, content_type)))


def thumb_add(client: SharedTokenClient, *, jpeg: bytes) -> ThumbAdded:
    """Add a cover (a JPG of at most 64 KB) as permanent thumb material."""
    answer = client.material.add("thumb", ("cover.jpg", jpeg, "image/jpeg"))
    return ThumbAdded(media_id=answer["media_id"], url=answer.get("url", ""))
