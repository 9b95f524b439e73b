"""Mini Program codes: wxa/getwxacodeunlimit, and the control endpoints for the pages a Mini Program has.

WeChat's document "获取不限制的小程序码 getUnlimitedQRCode" (developers.weixin.qq.com/miniprogram/dev/
server/API/qrcode-link/qr-code/api_getunlimitedqrcode.html): POST JSON {scene, page?, check_path?,
env_version?, width?, auto_color?, line_color?, is_hyaline?}; the image's bytes on success, JSON
{errcode, errmsg} on failure. `scene` is at most 32 visible characters of [0-9A-Za-z] and
!#$&'()*+,/:;=?@-._~; `page` is a page of the published Mini Program (no leading "/", no query), the
home page when absent; `env_version` release, trial or develop; `width` 280–1280 px, 430 by default.

WeChat draws its round "sun" code, which only WeChat can read; the sandbox draws a square QR code
(segno) that any reader decodes to what was asked for, so tests and Mini Program developers can check it:
    https://mp.weixin.qq.com/a/sandbox-wxacode?appid=..&page=..&scene=..&env_version=..
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

import segno
from PIL import Image
from werkzeug.wrappers import Request, Response

from wechat_sandbox.control_input import ControlInput
from wechat_sandbox.errors import BadControlInput, WeChatErrcode
from wechat_sandbox.protocols import FILE, json_response
from wechat_sandbox.routes import Route, json_body_of
from wechat_sandbox.state import Sandbox, snapshot_part
from wechat_sandbox.tokens import authenticated_app

MINI_PROGRAMS_ONLY = ("mini_program",)
SCENE = re.compile(r"[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]{1,32}")
# A page path as app.json lists it: segments of letters, digits, "_" and "-", no leading "/", no query.
PAGE = re.compile(r"[A-Za-z0-9_\-]+(?:/[A-Za-z0-9_\-]+)*")
ENV_VERSIONS = ("release", "trial", "develop")
WIDTH_DEFAULT, WIDTH_MIN, WIDTH_MAX = 430, 280, 1280
# A Mini Program's pages until the control API says otherwise: the storefront's (README "Mini Program pages").
DEFAULT_PAGES = (
    "pages/index/index",
    "pages/product/detail",
    "pages/category/index",
    "pages/cart/index",
    "pages/order/list",
)
CODE_URL = "https://mp.weixin.qq.com/a/sandbox-wxacode"
MAX_RECORDED_CODES = 1000


@snapshot_part("miniprogram_codes")
@dataclass
class MiniProgramPages:
    """Each Mini Program's published pages (appid -> pages, DEFAULT_PAGES when unset) and the codes drawn."""

    pages: dict[str, list[str]] = field(default_factory=dict)
    codes: list[dict] = field(default_factory=list)

    def pages_of(self, appid: str) -> list[str]:
        return self.pages.get(appid, list(DEFAULT_PAGES))

    def to_snapshot(self) -> dict:
        return {"pages": self.pages, "codes": self.codes}

    @classmethod
    def from_snapshot(cls, data: dict) -> MiniProgramPages:
        return cls(
            pages={str(appid): [str(page) for page in pages] for appid, pages in data["pages"].items()},
            codes=[dict(code) for code in data["codes"]],
        )


def unlimited_code(sandbox: Sandbox, request: Request) -> Response:
    """WeChat wxa/getwxacodeunlimit: POST {scene, page?, check_path?, env_version?, width?} gives a PNG code.

    40097 "invalid args" for a scene that is missing, longer than 32 characters or has a
    character outside WeChat's set, an unknown env_version or a width that is not a number;
    41030 "invalid page" for a page that is not one of the Mini Program's published pages
    (with check_path false only its form is checked). Mini Programs only (48001).
    """
    app = authenticated_app(sandbox, request)
    body = json_body_of(request)
    scene = body.get("scene")
    if not isinstance(scene, str) or not SCENE.fullmatch(scene):
        raise WeChatErrcode(40097)
    env_version = body.get("env_version", "release")
    if env_version not in ENV_VERSIONS:
        raise WeChatErrcode(40097)
    width = body.get("width", WIDTH_DEFAULT)
    if isinstance(width, bool) or not isinstance(width, (int, float)):
        raise WeChatErrcode(40097)
    # WeChat draws within its documented range whatever is asked.
    width = int(min(max(width, WIDTH_MIN), WIDTH_MAX))
    check_path = body.get("check_path", True) is not False
    with sandbox.lock:
        state = sandbox.part(MiniProgramPages)
        pages = state.pages_of(app.appid)
        page = body.get("page") or (pages[0] if pages else "")
        if not isinstance(page, str) or not PAGE.fullmatch(page) or (check_path and page not in pages):
            raise WeChatErrcode(41030)
        asked = {"appid": app.appid, "page": page, "scene": scene, "env_version": env_version}
        content = f"{CODE_URL}?{urlencode(asked)}"
        state.codes = [
            *state.codes[-(MAX_RECORDED_CODES - 1) :],
            {
                "appid": app.appid,
                "scene": scene,
                "page": page,
                "env_version": env_version,
                "width": width,
                "content": content,
            },
        ]
    return Response(_png(content, width=width), status=200, content_type="image/png")


def _png(content: str, *, width: int) -> bytes:
    code = segno.make_qr(content, error="m")
    buffer = io.BytesIO()
    code.save(buffer, kind="png", scale=max(1, width // code.symbol_size(border=4)[0]), border=4)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("L").resize((width, width), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def set_pages(sandbox: Sandbox, request: Request) -> Response:
    """POST {"appid"?, "pages": ["pages/index/index", ...]} sets the Mini Program's published pages (200).

    appid defaults to the one registered Mini Program; the first page is the home page.
    """
    body = ControlInput(request, allowed={"appid", "pages"})
    pages = body.raw("pages", required=True)
    if not isinstance(pages, list) or not all(isinstance(page, str) and PAGE.fullmatch(page) for page in pages):
        raise BadControlInput('pages must be a list of page paths such as "pages/index/index"')
    with sandbox.lock:
        app = _mini_program(sandbox, body.text("appid"))
        sandbox.part(MiniProgramPages).pages[app.appid] = list(dict.fromkeys(pages))
    return json_response({"appid": app.appid, "pages": pages})


def list_pages(sandbox: Sandbox, request: Request) -> Response:
    """GET ?appid gives the Mini Program's published pages and the codes drawn for it, oldest first."""
    with sandbox.lock:
        app = _mini_program(sandbox, request.args.get("appid"))
        state = sandbox.part(MiniProgramPages)
        codes = [code for code in state.codes if code["appid"] == app.appid]
        return json_response({"appid": app.appid, "pages": state.pages_of(app.appid), "codes": codes})


def _mini_program(sandbox: Sandbox, appid: str | None):
    if appid:
        app = sandbox.registered_app(appid)
    else:
        mini_programs = [app for app in sandbox.apps.values() if app.kind == "mini_program"]
        if len(mini_programs) != 1:
            raise BadControlInput(f"{len(mini_programs)} Mini Programs are registered: say which with appid")
        app = mini_programs[0]
    if app.kind != "mini_program":
        raise BadControlInput(f"{app.appid} is an {app.kind}; pages are a Mini Program's")
    return app


ROUTES = (
    Route(
        "/wxa/getwxacodeunlimit",
        ("POST",),
        unlimited_code,
        protocol=FILE,
        app_kinds=MINI_PROGRAMS_ONLY,
        json_body=True,
    ),
    Route("/sandbox/miniprogram/pages", ("POST",), set_pages),
    Route("/sandbox/miniprogram/pages", ("GET",), list_pages),
)
