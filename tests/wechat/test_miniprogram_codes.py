"""wechat/miniprogram_codes.py against the sandbox: checked before the call, WeChat's refusals as our errors."""

import pytest

from wechat.errors import WeChatQuotaExhausted
from wechat.miniprogram_codes import (
    CodeArgumentInvalid,
    CodeArgumentsRefused,
    CodePageNotFound,
    unlimited_code_get,
)

CODE_PATH = "/wxa/getwxacodeunlimit"
ASK = {"mini_program": None, "scene": "c=a1", "page": "pages/index/index", "env_version": "release", "width": 430}


def test_a_code_comes_back_as_png_bytes(sandbox):
    image = unlimited_code_get(**ASK)

    assert image.png.startswith(b"\x89PNG") and image.scene == "c=a1"
    (sent,) = sandbox.received(CODE_PATH)
    assert sent["errcode"] is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scene": "x" * 33}, "scene"),
        ({"scene": "c=春"}, "scene"),
        ({"scene": "c=a b"}, "scene"),
        ({"scene": ""}, "scene"),
        ({"page": "/pages/index/index"}, "page"),
        ({"page": "pages/index/index?id=1"}, "page"),
        ({"env_version": "beta"}, "env_version"),
        ({"width": 279}, "width"),
        ({"width": 1281}, "width"),
    ],
)
def test_what_wechat_would_refuse_is_refused_before_any_call(sandbox, change, field):
    with pytest.raises(CodeArgumentInvalid) as refused:
        unlimited_code_get(**ASK | change)

    assert refused.value.field == field
    assert sandbox.received(CODE_PATH) == []


def test_a_page_the_mini_program_lacks_is_page_not_found(sandbox):
    with pytest.raises(CodePageNotFound) as refused:
        unlimited_code_get(**ASK | {"page": "pages/live/room"})

    assert refused.value.errcode == 41030


def test_40097_and_45009_are_mapped(sandbox):
    sandbox.add_fault(CODE_PATH, errcode=40097)
    with pytest.raises(CodeArgumentsRefused):
        unlimited_code_get(**ASK)

    sandbox.add_fault(CODE_PATH, errcode=45009)
    with pytest.raises(WeChatQuotaExhausted):
        unlimited_code_get(**ASK)
