"""Article images compressed with Pillow to what WeChat's media APIs take; the send task calls these.

Limits (公众号文档 "上传图文消息图片" and "上传永久素材"; the sandbox enforces the same):
- thumb (an article's cover, material/add_material?type=thumb): JPG, at most 64 KB;
- media/uploadimg (images inside the content): JPG or PNG, under 1 MB;
- a permanent image: documented up to 10 MB; we aim for 2 MB so sends stay quick.

A still image always fits by lowering JPEG quality and then the size. An animation cannot be
re-encoded without losing it, so an animated image passes untouched when its format and size
already fit, and is refused otherwise. So is anything Pillow cannot read, a format browsers
cannot show, and a picture too large to decode safely (a decompression bomb).
"""

import io
import warnings

from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

KB = 1024
MB = 1024 * KB
THUMB_MAX_BYTES = 64 * KB
UPLOADIMG_MAX_BYTES = MB - 1  # "大小必须在1MB以下": under 1 MB
PERMANENT_MAX_BYTES = 2 * MB

# What staff may upload: what every browser shows, so the preview shows it too.
READABLE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}
# A 50-megapixel phone photo decodes; a file claiming more is refused before decoding,
# since a few KB of PNG can claim gigabytes of pixels.
MAX_PIXELS = 50_000_000

# WeChat shows an article column about 677 CSS px wide, ~2000 px on a 3x phone screen:
# pixels beyond that only cost bytes. A cover shows at 900×383 at most.
CONTENT_MAX_SIDE = 2048
THUMB_MAX_SIDE = 900
# Below this longest side an image is useless in an article; stop shrinking and refuse.
MIN_SIDE = 200
JPEG_QUALITIES = (88, 80, 72, 64, 56, 48, 40, 32)


class ImageCannotFit(ValueError):
    """The image cannot be made to fit a WeChat limit; the message says which, for staff to read."""


def image_for_thumb(data: bytes) -> bytes:
    """A JPEG of at most 64 KB for material/add_material?type=thumb (an article's cover).

    An animated image gives its first frame: a cover is always a still picture in WeChat.
    """
    image = _opened(data)
    return _fitted_jpeg(
        _flattened_rgb(image), max_bytes=THUMB_MAX_BYTES, max_side=THUMB_MAX_SIDE, limit_name=_("a cover (64 KB JPG)")
    )


def image_for_uploadimg(data: bytes) -> tuple[bytes, str]:
    """JPG or PNG under 1 MB for media/uploadimg (images inside an article): (bytes, content type)."""
    return _fitted(
        data,
        max_bytes=UPLOADIMG_MAX_BYTES,
        passthrough_formats={"JPEG", "PNG"},
        limit_name=_("an image inside an article (WeChat's media/uploadimg: JPG or PNG under 1 MB)"),
    )


def image_for_permanent(data: bytes) -> tuple[bytes, str]:
    """An image of at most 2 MB for material/add_material?type=image: (bytes, content type)."""
    return _fitted(
        data,
        max_bytes=PERMANENT_MAX_BYTES,
        passthrough_formats={"JPEG", "PNG", "GIF"},
        limit_name=_("a permanent image (2 MB)"),
    )


def image_format_extension(content_type: str) -> str:
    """The file extension WeChat expects for one of the content types these functions return."""
    return {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif"}[content_type]


def _fitted(data: bytes, *, max_bytes: int, passthrough_formats: set[str], limit_name: str) -> tuple[bytes, str]:
    image = _decoded(_opened(data), max_side=CONTENT_MAX_SIDE)
    unchanged_fits = image.format in passthrough_formats and len(data) <= max_bytes and not _needs_rewrite(image)
    if unchanged_fits:
        return data, Image.MIME[image.format]
    if getattr(image, "is_animated", False):
        raise ImageCannotFit(
            _(
                "This animated %(format)s (%(megabytes)s) cannot be sent as %(limit_name)s: "
                "shrinking or converting it would lose the animation. Use a still image, or an animation that fits."
            )
            % {"format": image.format, "megabytes": _megabytes(len(data)), "limit_name": limit_name}
        )
    upright = ImageOps.exif_transpose(image)
    if _has_transparency(upright):
        png = _png_within(upright, max_bytes=max_bytes)
        if png is not None:
            return png, "image/png"
    # An article's background is white, so transparency flattened on white looks the same.
    return _fitted_jpeg(
        _flattened_rgb(upright), max_bytes=max_bytes, max_side=CONTENT_MAX_SIDE, limit_name=limit_name
    ), ("image/jpeg")


def _opened(data: bytes) -> Image.Image:
    """The image in `data`, header read only, or ImageCannotFit for what we cannot or must not decode."""
    try:
        with warnings.catch_warnings():
            # Pillow only warns up to twice its own pixel limit; ours is stricter and checked below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as error:
        if isinstance(error, Image.DecompressionBombError):
            raise ImageCannotFit(
                _("This image has too many pixels to process safely: the most is %(max_megapixels)s megapixels.")
                % {"max_megapixels": MAX_PIXELS // 1_000_000}
            ) from error
        raise ImageCannotFit(_("This file is not an image we can read. Use a JPG, PNG, GIF or WebP image.")) from error
    if image.format not in READABLE_FORMATS:
        raise ImageCannotFit(
            _("%(format)s images are not accepted. Use a JPG, PNG, GIF or WebP image.") % {"format": image.format}
        )
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise ImageCannotFit(
            _(
                "This image is %(width)s×%(height)s pixels (%(megapixels)s megapixels); "
                "the most we process is %(max_megapixels)s megapixels. Resize it and upload it again."
            )
            % {
                "width": width,
                "height": height,
                "megapixels": format(width * height / 1_000_000, ".0f"),
                "max_megapixels": MAX_PIXELS // 1_000_000,
            }
        )
    return image


def _decoded(image: Image.Image, *, max_side: int) -> Image.Image:
    """The pixels, decoded no larger than needed: JPEG decodes at 1/2, 1/4 or 1/8 scale for free."""
    if image.format == "JPEG":
        scale = max(image.size) / max_side
        if scale >= 2:
            image.draft(image.mode, (image.width // int(scale), image.height // int(scale)))
    try:
        image.load()
    except OSError as error:
        raise ImageCannotFit(
            _("This image file is damaged or cut short. Save it again and upload the new file.")
        ) from error
    return image


def _needs_rewrite(image: Image.Image) -> bool:
    """A photo turned by EXIF must be turned for real (WeChat strips EXIF), and EXIF carries GPS positions;
    CMYK shows with the wrong colours in some viewers."""
    return image.mode == "CMYK" or bool(image.getexif())


def _has_transparency(image: Image.Image) -> bool:
    if image.mode in {"RGBA", "LA", "PA"}:
        return image.getchannel("A").getextrema()[0] < 255
    return image.mode == "P" and "transparency" in image.info


def _flattened_rgb(image: Image.Image) -> Image.Image:
    """Upright RGB: EXIF orientation applied, transparency on white, CMYK and palettes converted."""
    image = ImageOps.exif_transpose(_decoded(image, max_side=CONTENT_MAX_SIDE))
    if image.mode in {"RGBA", "LA", "PA", "P"} and _has_transparency(image):
        rgba = image.convert("RGBA")
        flattened = Image.new("RGB", rgba.size, "white")
        flattened.paste(rgba, mask=rgba.getchannel("A"))
        return flattened
    return image.convert("RGB")


def _png_within(image: Image.Image, *, max_bytes: int) -> bytes | None:
    """The transparent image as a PNG within the limit at its own size, else None (it goes to JPEG)."""
    image = _scaled_to(image.convert("RGBA"), max_side=CONTENT_MAX_SIDE)
    png = _encoded(image, format="PNG", optimize=True)
    return png if len(png) <= max_bytes else None


def _fitted_jpeg(image: Image.Image, *, max_bytes: int, max_side: int, limit_name: str) -> bytes:
    """The best JPEG quality that fits, shrinking the picture only when the lowest quality does not."""
    image = _scaled_to(image, max_side=max_side)
    lowest_quality = JPEG_QUALITIES[-1]
    while True:
        smallest = _jpeg(image, quality=lowest_quality)
        if len(smallest) <= max_bytes:
            return _best_quality_within(image, max_bytes=max_bytes, fallback=smallest)
        # Bytes grow about with the pixel count: aim just under the limit in one step.
        factor = min(0.9, max(0.5, 0.95 * (max_bytes / len(smallest)) ** 0.5))
        size = (round(image.width * factor), round(image.height * factor))
        if max(size) < MIN_SIDE or min(size) < 1:
            raise ImageCannotFit(
                _(
                    "This image cannot be compressed to fit %(limit_name)s without shrinking it below "
                    "%(min_side)s pixels. "
                    "Use a simpler or smaller picture."
                )
                % {"limit_name": limit_name, "min_side": MIN_SIDE}
            )
        image = image.resize(size, Image.Resampling.LANCZOS)


def _best_quality_within(image: Image.Image, *, max_bytes: int, fallback: bytes) -> bytes:
    """Binary search over JPEG_QUALITIES (bytes fall as quality falls) for the highest one that fits."""
    best = fallback
    low, high = 0, len(JPEG_QUALITIES) - 2  # the last quality is known to fit
    while low <= high:
        middle = (low + high) // 2
        encoded = _jpeg(image, quality=JPEG_QUALITIES[middle])
        if len(encoded) <= max_bytes:
            best, high = encoded, middle - 1
        else:
            low = middle + 1
    return best


def _scaled_to(image: Image.Image, *, max_side: int) -> Image.Image:
    if max(image.size) <= max_side:
        return image
    factor = max_side / max(image.size)
    return image.resize(
        (max(1, round(image.width * factor)), max(1, round(image.height * factor))), Image.Resampling.LANCZOS
    )


def _jpeg(image: Image.Image, *, quality: int) -> bytes:
    return _encoded(image, format="JPEG", quality=quality, optimize=True, progressive=True)


def _encoded(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, **options)
    return buffer.getvalue()


def _megabytes(size: int) -> str:
    return f"{size / MB:.1f} MB" if size >= MB else f"{size // KB} KB"
