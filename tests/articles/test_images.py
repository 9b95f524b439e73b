"""Images compressed to WeChat's limits (thumb ≤ 64 KB JPG, uploadimg under 1 MB jpg/png, permanent ≤ 2 MB)."""

import io

import pytest
from PIL import Image

from articles.images import (
    MAX_PIXELS,
    PERMANENT_MAX_BYTES,
    THUMB_MAX_BYTES,
    UPLOADIMG_MAX_BYTES,
    ImageCannotFit,
    image_for_permanent,
    image_for_thumb,
    image_for_uploadimg,
)
from tests.articles.image_samples import (
    EXIF_ORIENTATION,
    animated_gif,
    encoded,
    noisy_photo,
    opened,
    several_megabyte_jpeg,
)


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    data = several_megabyte_jpeg()
    assert len(data) > 4 * 1024 * 1024
    return data


def test_a_several_megabyte_photo_becomes_a_thumb_of_at_most_64_kb(big_photo):
    thumb = image_for_thumb(big_photo)

    assert len(thumb) <= THUMB_MAX_BYTES
    image = opened(thumb)
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    # Shrunk, but still a usable cover with the photo's proportions.
    assert image.width >= 600
    assert image.width / image.height == pytest.approx(3264 / 2448, rel=0.02)


def test_a_several_megabyte_photo_fits_uploadimg_under_1_mb(big_photo):
    data, content_type = image_for_uploadimg(big_photo)

    assert len(data) < 1024 * 1024
    assert len(data) <= UPLOADIMG_MAX_BYTES
    assert content_type == "image/jpeg"
    assert opened(data).format == "JPEG"


def test_a_several_megabyte_photo_fits_a_permanent_image_of_2_mb(big_photo):
    data, content_type = image_for_permanent(big_photo)

    assert len(data) <= PERMANENT_MAX_BYTES
    assert content_type == "image/jpeg"
    assert opened(data).format == "JPEG"


def test_a_small_jpeg_without_metadata_is_sent_as_it_is():
    small = encoded(noisy_photo(640, 480, sigma=10), "JPEG", quality=80)

    assert image_for_uploadimg(small) == (small, "image/jpeg")
    assert image_for_permanent(small) == (small, "image/jpeg")


def test_a_small_png_with_alpha_keeps_its_transparency_for_uploadimg():
    logo = Image.new("RGBA", (300, 120), (0, 0, 0, 0))
    logo.paste((200, 30, 30, 255), (20, 20, 280, 100))
    data = encoded(logo, "PNG")

    fitted, content_type = image_for_uploadimg(data)

    assert content_type == "image/png"
    assert opened(fitted).mode == "RGBA"
    assert opened(fitted).getpixel((5, 5))[3] == 0


def test_a_large_png_with_alpha_is_flattened_on_white_to_fit_uploadimg():
    data = encoded(noisy_photo(2000, 1500, mode="RGBA"), "PNG")
    assert len(data) > 2 * 1024 * 1024

    fitted, content_type = image_for_uploadimg(data)

    assert len(fitted) <= UPLOADIMG_MAX_BYTES
    assert content_type == "image/jpeg"
    image = opened(fitted)
    assert image.mode == "RGB"
    # The corners were fully transparent: white now, not black.
    assert all(channel > 235 for channel in image.getpixel((0, 0)))


def test_a_png_with_alpha_becomes_a_thumb_flattened_on_white():
    data = encoded(noisy_photo(1600, 900, mode="RGBA"), "PNG")

    thumb = opened(image_for_thumb(data))

    assert thumb.format == "JPEG"
    assert all(channel > 235 for channel in thumb.getpixel((0, 0)))


def test_a_cmyk_jpeg_is_sent_as_rgb():
    data = encoded(noisy_photo(1200, 800, mode="CMYK", sigma=20), "JPEG", quality=90)
    assert opened(data).mode == "CMYK"

    fitted, content_type = image_for_uploadimg(data)

    assert content_type == "image/jpeg"
    assert opened(fitted).mode == "RGB"
    assert opened(image_for_thumb(data)).mode == "RGB"


def test_a_photo_rotated_by_exif_is_turned_upright_and_loses_its_exif():
    # Stored landscape, with a tag saying "turn 90° to show": the phone was held upright.
    photo = noisy_photo(800, 400, sigma=20)
    exif = photo.getexif()
    exif[EXIF_ORIENTATION] = 6
    data = encoded(photo, "JPEG", quality=85, exif=exif)

    fitted, _ = image_for_uploadimg(data)
    thumb = image_for_thumb(data)

    for result in (fitted, thumb):
        image = opened(result)
        assert image.size == (400, 800)
        assert EXIF_ORIENTATION not in image.getexif()


def test_a_still_gif_is_converted_for_uploadimg_which_takes_only_jpg_and_png():
    data = encoded(noisy_photo(400, 300, sigma=10).convert("P"), "GIF")

    fitted, content_type = image_for_uploadimg(data)

    assert content_type in {"image/jpeg", "image/png"}
    assert opened(fitted).format in {"JPEG", "PNG"}


def test_a_small_animated_gif_is_kept_as_a_permanent_image():
    data = animated_gif(frames=3, side=120)

    assert image_for_permanent(data) == (data, "image/gif")


def test_an_animated_gif_over_2_mb_is_refused_as_a_permanent_image():
    data = animated_gif(frames=16, side=500)
    assert len(data) > PERMANENT_MAX_BYTES

    with pytest.raises(ImageCannotFit) as refusal:
        image_for_permanent(data)

    message = str(refusal.value)
    assert message.startswith("This animated GIF (")
    assert "a permanent image (2 MB)" in message
    assert "lose the animation" in message


def test_an_animated_gif_is_refused_for_uploadimg_which_would_lose_the_animation():
    data = animated_gif(frames=3, side=120)

    with pytest.raises(ImageCannotFit) as refusal:
        image_for_uploadimg(data)

    message = str(refusal.value)
    assert "JPG or PNG under 1 MB" in message
    assert "lose the animation" in message


def test_an_animated_gif_gives_its_first_frame_as_a_thumb():
    thumb = opened(image_for_thumb(animated_gif(frames=3, side=300)))

    assert thumb.format == "JPEG"
    assert thumb.size == (300, 300)


@pytest.mark.parametrize("compress", [image_for_thumb, image_for_uploadimg, image_for_permanent])
def test_a_file_that_is_not_an_image_is_refused(compress):
    with pytest.raises(ImageCannotFit, match="not an image we can read"):
        compress(b"%PDF-1.7 this is a document, not a photo")


def test_a_truncated_image_is_refused():
    data = several_megabyte_jpeg()[:200_000]

    with pytest.raises(ImageCannotFit, match="damaged or cut short"):
        image_for_uploadimg(data)


def test_a_format_browsers_cannot_show_is_refused():
    data = encoded(noisy_photo(64, 64), "TIFF")

    with pytest.raises(ImageCannotFit, match="TIFF images are not accepted"):
        image_for_thumb(data)


@pytest.mark.parametrize("compress", [image_for_thumb, image_for_uploadimg, image_for_permanent])
def test_a_decompression_bomb_is_refused_before_it_is_decoded(compress):
    # A few KB of PNG claiming 100 megapixels.
    side = 10_000
    assert side * side > MAX_PIXELS
    bomb = encoded(Image.new("1", (side, side)), "PNG")
    assert len(bomb) < 100 * 1024

    with pytest.raises(ImageCannotFit) as refusal:
        compress(bomb)

    assert str(refusal.value).startswith("This image is 10000×10000 pixels (100 megapixels); the most we process is 50")


def test_image_cannot_fit_is_a_value_error():
    assert issubclass(ImageCannotFit, ValueError)


def test_results_are_images_pillow_reads_back_in_full(big_photo):
    for result in (image_for_thumb(big_photo), image_for_uploadimg(big_photo)[0]):
        Image.open(io.BytesIO(result)).verify()
