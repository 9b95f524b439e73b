"""Images compressed with Pillow to what WeChat takes: a cover as a thumb, an inline image for uploadimg.

A minimal version written for sending; the editor's fuller module replaces it with the same names.
Limits (公众号文档): 上传永久素材 thumb ≤ 64 KB JPG; 上传图文消息图片 jpg/png under 1 MB.
"""

import io

from PIL import Image, UnidentifiedImageError

THUMB_MAX_BYTES = 64 * 1024
UPLOADIMG_MAX_BYTES = 1024 * 1024 - 1
# Smallest side we scale down to before giving up: below it the picture is useless.
MIN_SIDE = 64
QUALITIES = (85, 75, 65, 55, 45)


class ImageCannotFit(ValueError):
    """The image cannot be made to fit WeChat's limit (or is not an image at all)."""


def image_for_thumb(data: bytes) -> bytes:
    """A JPEG of at most 64 KB."""
    return _jpeg_within(_opened(data), THUMB_MAX_BYTES, what="cover")


def image_for_uploadimg(data: bytes) -> tuple[bytes, str]:
    """The image as uploadimg takes it: (bytes, "jpg" or "png"), under 1 MB."""
    image = _opened(data)
    if image.format in {"JPEG", "PNG"} and len(data) <= UPLOADIMG_MAX_BYTES:
        return data, "jpg" if image.format == "JPEG" else "png"
    return _jpeg_within(image, UPLOADIMG_MAX_BYTES, what="inline image"), "jpg"


def _opened(data: bytes) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError) as error:
        raise ImageCannotFit("This file is not an image WeChat can show.") from error
    return image


def _jpeg_within(image: Image.Image, limit: int, *, what: str) -> bytes:
    """Lower the quality first, then halve the size, until the JPEG fits in `limit` bytes."""
    picture = image.convert("RGB")
    while True:
        for quality in QUALITIES:
            buffer = io.BytesIO()
            picture.save(buffer, "JPEG", quality=quality, optimize=True)
            if buffer.tell() <= limit:
                return buffer.getvalue()
        if min(picture.size) // 2 < MIN_SIDE:
            raise ImageCannotFit(f"This {what} cannot be compressed under WeChat's {limit // 1024} KB limit.")
        picture = picture.resize((picture.width // 2, picture.height // 2), Image.Resampling.LANCZOS)
