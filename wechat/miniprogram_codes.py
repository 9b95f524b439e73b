"""Mini Program codes: wxa/getwxacodeunlimit ("获取不限制的小程序码 getUnlimitedQRCode").

The arguments are checked here against WeChat's documented rules before any call, so a code staff
ask for is refused with the reason instead of spending a call: `scene` at most 32 visible characters
of [0-9A-Za-z] and !#$&'()*+,/:;=?@-._~ (the Mini Program reads it from its launch query `scene`);
`page` a page path without a leading "/" or a query; `env_version` release, trial or develop;
`width` 280–1280 px. WeChat answers the image's bytes, or JSON {errcode, errmsg}: 41030 the page is
not in the published Mini Program, 40097 invalid arguments, 45009 too many calls (5,000 a minute).
"""

import re
from dataclasses import dataclass

from wechat.clients import WECHAT_API_ROOT, mini_program_client
from wechat.errors import WeChatPermanentError
from wechat.models import MiniProgram

SCENE_MAX_LENGTH = 32
SCENE_CHARACTERS = "0-9A-Za-z!#$&'()*+,/:;=?@\\-._~"
SCENE_PATTERN = re.compile(f"[{SCENE_CHARACTERS}]{{1,{SCENE_MAX_LENGTH}}}")
PAGE_MAX_LENGTH = 128
PAGE_PATTERN = re.compile(r"[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-]+)*")
ENV_VERSIONS = ("release", "trial", "develop")
WIDTH_MIN, WIDTH_MAX, WIDTH_DEFAULT = 280, 1280, 430
PAGE_NOT_FOUND_ERRCODE = 41030
INVALID_ARGUMENTS_ERRCODE = 40097
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class CodeArgumentInvalid(ValueError):
    """An argument WeChat would refuse; `field` names it (scene, page, env_version, width)."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


class CodePageNotFound(WeChatPermanentError):
    """41030: the page is not a page of the Mini Program's published version."""


class CodeArgumentsRefused(WeChatPermanentError):
    """40097: WeChat refused the arguments."""


@dataclass(frozen=True)
class MiniProgramCodeImage:
    png: bytes
    scene: str
    page: str
    env_version: str
    width: int


def unlimited_code_arguments_check(*, scene: str, page: str, env_version: str, width: int) -> None:
    """Raise CodeArgumentInvalid for the first argument WeChat's document says it would refuse."""
    if not scene or len(scene) > SCENE_MAX_LENGTH:
        raise CodeArgumentInvalid("scene", f"scene must be 1 to {SCENE_MAX_LENGTH} characters, not {len(scene)}")
    if not SCENE_PATTERN.fullmatch(scene):
        refused = sorted({character for character in scene if not re.fullmatch(f"[{SCENE_CHARACTERS}]", character)})
        raise CodeArgumentInvalid("scene", f"scene has characters WeChat refuses: {''.join(refused)}")
    if len(page) > PAGE_MAX_LENGTH or not PAGE_PATTERN.fullmatch(page):
        raise CodeArgumentInvalid("page", "page must be a page path such as pages/index/index, without / or ?")
    if env_version not in ENV_VERSIONS:
        raise CodeArgumentInvalid("env_version", f"env_version must be one of {', '.join(ENV_VERSIONS)}")
    if not WIDTH_MIN <= width <= WIDTH_MAX:
        raise CodeArgumentInvalid("width", f"width must be {WIDTH_MIN} to {WIDTH_MAX} px")


def unlimited_code_get(
    *, mini_program: MiniProgram | None, scene: str, page: str, env_version: str, width: int
) -> MiniProgramCodeImage:
    """The PNG of a Mini Program code opening `page` with `scene`; checked first (CodeArgumentInvalid)."""
    unlimited_code_arguments_check(scene=scene, page=page, env_version=env_version, width=width)
    # wechatpy's get_wxa_code_unlimited sends neither env_version nor check_path: post the documented body.
    body = {"scene": scene, "page": page, "env_version": env_version, "width": width, "check_path": True}
    try:
        # wxa/ sits beside cgi-bin/, not under it (the client's base): name WeChat's root, which it rebases.
        answer = mini_program_client(mini_program).post(
            "wxa/getwxacodeunlimit", data=body, api_base_url=WECHAT_API_ROOT
        )
    except WeChatPermanentError as error:
        if error.errcode == PAGE_NOT_FOUND_ERRCODE:
            raise CodePageNotFound(str(error), errcode=error.errcode) from error
        if error.errcode == INVALID_ARGUMENTS_ERRCODE:
            raise CodeArgumentsRefused(str(error), errcode=error.errcode) from error
        raise
    # wechatpy hands back the HTTP response itself when the body is not JSON: the image.
    png = getattr(answer, "content", b"")
    if not png.startswith(PNG_SIGNATURE):
        raise WeChatPermanentError("WeChat answered something other than a PNG image for a Mini Program code")
    return MiniProgramCodeImage(png=png, scene=scene, page=page, env_version=env_version, width=width)
