"""wxa/getwxacodeunlimit over real HTTP, as "获取不限制的小程序码 getUnlimitedQRCode" documents it.

The sandbox answers a PNG that a QR reader (zxing-cpp) decodes to the appid, page, scene and
env_version asked for; WeChat's errors 40097 (scene, env_version) and 41030 (page) as JSON.
"""

import io
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import zxingcpp
from django.conf import settings
from PIL import Image

from tests.wechat_sandbox.calls import TIMEOUT, assert_wechat_error, fetch_token, mini_program_token
from wechat_sandbox.client import SandboxControlError

CODE_PATH = "wxa/getwxacodeunlimit"


def draw(url: str, token: str, **body) -> requests.Response:
    return requests.post(f"{url}{CODE_PATH}", params={"access_token": token}, json=body, timeout=TIMEOUT)


def decoded(png: bytes) -> dict:
    image = Image.open(io.BytesIO(png))
    (barcode,) = zxingcpp.read_barcodes(image)
    parts = urlsplit(barcode.text)
    return {"url": f"{parts.scheme}://{parts.netloc}{parts.path}"} | {
        name: values[0] for name, values in parse_qs(parts.query).items()
    }


def test_a_code_is_a_png_of_the_width_asked_that_decodes_to_the_page_and_scene(url, sandbox):
    answer = draw(url, mini_program_token(url), scene="id=12&c=poster-1", page="pages/product/detail", width=600)

    assert answer.status_code == 200 and answer.headers["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(answer.content))
    assert image.format == "PNG" and image.size == (600, 600)
    assert decoded(answer.content) == {
        "url": "https://mp.weixin.qq.com/a/sandbox-wxacode",
        "appid": settings.WECHAT_MINI_PROGRAM_APPID,
        "page": "pages/product/detail",
        "scene": "id=12&c=poster-1",
        "env_version": "release",
    }
    (drawn,) = sandbox.mini_program_pages()["codes"]
    assert drawn["scene"] == "id=12&c=poster-1" and drawn["width"] == 600


def test_without_a_page_the_code_opens_the_home_page_at_the_default_width(url, sandbox):
    answer = draw(url, mini_program_token(url), scene="a1")

    assert Image.open(io.BytesIO(answer.content)).size == (430, 430)
    assert decoded(answer.content)["page"] == "pages/index/index"


@pytest.mark.parametrize(
    "body",
    [
        {"scene": "x" * 33},
        {"scene": "c=春"},
        {"scene": "50%off"},
        {"scene": ""},
        {},
        {"scene": "a1", "env_version": "beta"},
        {"scene": "a1", "width": "wide"},
    ],
    ids=["scene-33-characters", "scene-chinese", "scene-percent", "scene-empty", "no-scene", "env-version", "width"],
)
def test_arguments_wechat_refuses_get_40097(url, sandbox, body):
    answer = draw(url, mini_program_token(url), **body)

    assert_wechat_error(answer.json(), 40097, "invalid args")
    assert sandbox.mini_program_pages()["codes"] == []


def test_a_page_the_mini_program_has_not_published_gets_41030_unless_check_path_is_off(url, sandbox):
    token = mini_program_token(url)

    assert_wechat_error(draw(url, token, scene="a1", page="pages/live/room").json(), 41030, "invalid page")
    assert_wechat_error(draw(url, token, scene="a1", page="/pages/index/index").json(), 41030, "invalid page")
    unchecked = draw(url, token, scene="a1", page="pages/live/room", check_path=False, env_version="develop")
    assert decoded(unchecked.content)["page"] == "pages/live/room"
    assert decoded(unchecked.content)["env_version"] == "develop"


def test_the_control_api_sets_the_published_pages(url, sandbox):
    sandbox.set_mini_program_pages(["pages/home/home", "pages/live/room"])
    token = mini_program_token(url)

    assert decoded(draw(url, token, scene="live", page="pages/live/room").content)["page"] == "pages/live/room"
    assert decoded(draw(url, token, scene="home").content)["page"] == "pages/home/home"
    assert_wechat_error(draw(url, token, scene="a1", page="pages/index/index").json(), 41030, "invalid page")
    with pytest.raises(SandboxControlError, match="pages must be a list"):
        sandbox.set_mini_program_pages(["/pages/with/slash"])


def test_official_accounts_are_not_served(url, sandbox):
    token = fetch_token(url)["access_token"]

    assert_wechat_error(draw(url, token, scene="a1").json(), 48001, "api unauthorized")
