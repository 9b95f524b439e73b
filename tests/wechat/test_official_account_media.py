"""Article images uploaded to the sandbox over HTTP: 上传图文消息内的图片获取URL, 新增永久素材 (thumb)."""

import pytest

from tests.wechat.images import image_bytes
from wechat.errors import WeChatPermanentError
from wechat.official_account_media import InlineImageUploaded, ThumbAdded, inline_image_upload, thumb_add


def test_an_inline_image_is_answered_with_a_wechat_url(sandbox, account_client):
    uploaded = inline_image_upload(
        account_client, filename="image.png", content=image_bytes("PNG"), content_type="image/png"
    )

    assert isinstance(uploaded, InlineImageUploaded)
    assert uploaded.url.startswith("http://mmbiz.qpic.cn/mmbiz_png/")
    [call] = sandbox.received("/cgi-bin/media/uploadimg")
    assert 'filename="image.png"' in call["body"]


def test_an_inline_image_over_a_megabyte_is_refused_permanently(account_client):
    too_large = image_bytes("PNG") + b"\0" * (1024 * 1024)

    with pytest.raises(WeChatPermanentError) as refused:
        inline_image_upload(account_client, filename="image.png", content=too_large, content_type="image/png")

    assert refused.value.errcode == 40009


def test_a_cover_becomes_permanent_thumb_material(sandbox, account_client):
    thumb = thumb_add(account_client, jpeg=image_bytes("JPEG"))

    assert isinstance(thumb, ThumbAdded)
    assert thumb.media_id and "wx_fmt=jpeg" in thumb.url
    [call] = sandbox.received("/cgi-bin/material/add_material")
    assert call["query"]["type"] == "thumb" and 'filename="cover.jpg"' in call["body"]


def test_a_thumb_over_64_kb_is_refused_permanently(account_client):
    with pytest.raises(WeChatPermanentError) as refused:
        thumb_add(account_client, jpeg=image_bytes("JPEG") + b"\0" * (64 * 1024))

    assert refused.value.errcode == 40006
