"""Images made with Pillow for the tests: photo-like, with noise so they do not compress trivially."""

import io

from PIL import Image, ImageOps

# The EXIF tag WeChat's phones rotate by: 6 means "turn 90° clockwise to show".
EXIF_ORIENTATION = 0x0112


def noisy_photo(width: int, height: int, *, mode: str = "RGB", sigma: float = 60) -> Image.Image:
    """A gradient under strong noise: as hard to compress as a detailed photo, made in C at Pillow's speed."""
    bands = [
        Image.linear_gradient("L").resize((width, height)),
        Image.effect_noise((width, height), sigma),
        Image.linear_gradient("L").rotate(90).resize((width, height)),
    ]
    photo = Image.merge("RGB", bands)
    if mode == "RGBA":
        # Opaque in the middle, fading to fully transparent corners.
        alpha = ImageOps.invert(Image.radial_gradient("L").resize((width, height)))
        photo.putalpha(alpha)
        return photo
    return photo.convert(mode)


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def several_megabyte_jpeg() -> bytes:
    """An 8-megapixel phone photo saved at high quality: several MB."""
    return encoded(noisy_photo(3264, 2448), "JPEG", quality=95)


def animated_gif(*, frames: int, side: int) -> bytes:
    pictures = [noisy_photo(side, side, sigma=30 + index).convert("P") for index in range(frames)]
    return encoded(pictures[0], "GIF", save_all=True, append_images=pictures[1:], duration=100, loop=0)


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image
