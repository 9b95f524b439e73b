"""Thumbnail sizes for the Mini Program, made with Pillow.

Mini Program layouts are in rpx: 750 rpx is the screen's width whatever the
phone, which on the common 2x screens is 750 physical pixels.
- list: the two-column product grid gives each card about 345 rpx, so a 375 px
  square covers it on a 2x screen; square crops keep the grid's rows even.
- detail: the image swiper spans the screen, 750 rpx, so 750 px wide at the
  photo's own aspect ratio.
Bigger (3x) screens scale these up slightly, which is the usual trade for
pages that load fast on mobile networks.
"""

import io
from pathlib import Path

from PIL import Image, ImageOps

LIST_THUMBNAIL_SIDE = 375
DETAIL_THUMBNAIL_WIDTH = 750
JPEG_QUALITY = 85


def list_thumbnail_jpeg(original: Image.Image) -> bytes:
    """A centred square crop, never upscaled past the photo's short side."""
    side = min(LIST_THUMBNAIL_SIDE, *original.size)
    return _jpeg(ImageOps.fit(original, (side, side), Image.Resampling.LANCZOS))


def detail_thumbnail_jpeg(original: Image.Image) -> bytes:
    """Scaled to the detail page's width, keeping the aspect ratio, never upscaled."""
    width = min(DETAIL_THUMBNAIL_WIDTH, original.width)
    height = max(1, round(original.height * width / original.width))
    return _jpeg(original.resize((width, height), Image.Resampling.LANCZOS))


def opened_for_thumbnails(file) -> Image.Image:
    """The upright RGB picture in `file`: phones store rotation in EXIF, and JPEG has no alpha."""
    with Image.open(file) as image:
        upright = ImageOps.exif_transpose(image)
        if upright.mode in {"RGBA", "LA", "P"}:
            rgba = upright.convert("RGBA")
            flattened = Image.new("RGB", rgba.size, "white")
            flattened.paste(rgba, mask=rgba.getchannel("A"))
            return flattened
        return upright.convert("RGB")


def thumbnail_name(original_name: str, suffix: str) -> str:
    return f"{Path(original_name).stem}-{suffix}.jpg"


def _jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return buffer.getvalue()
