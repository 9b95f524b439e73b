"""Small images made with Pillow, in the formats WeChat's media APIs take."""

import io

from PIL import Image


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (60, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, "seagreen").save(buffer, fmt)
    return buffer.getvalue()
