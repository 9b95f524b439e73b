"""Official Accounts registered in the sandbox, and pushes of articles with real images, for the sending tests."""

import io
import random
import secrets
import time

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from articles.models import Push, PushArticle, PushAudience, PushMode, PushStatus
from articles.services.push_status import push_transition
from tests.factories import ArticleFactory
from wechat.models import OfficialAccount
from wechat_sandbox.client import SandboxClient

CALLBACK_TOKEN = "sendingToken42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SECRET = "sending-secret"


def account_registered(
    sandbox: SandboxClient,
    *,
    account_type: str = OfficialAccount.AccountType.SERVICE,
    callback_base_url: str | None = None,
    mode: str = OfficialAccount.MessageMode.PLAIN,
) -> OfficialAccount:
    """An account in our database and in the sandbox; with `callback_base_url`, WeChat pushes events to us there."""
    appid = "wx" + secrets.token_hex(8)
    account = OfficialAccount.objects.create(
        name="Tea House",
        appid=appid,
        app_secret=SECRET,
        account_type=account_type,
        callback_token=CALLBACK_TOKEN,
        encoding_aes_key=AES_KEY,
        message_mode=mode,
    )
    callback = None
    if callback_base_url:
        callback = {
            "url": f"{callback_base_url}/wechat/oa/{appid}/",
            "token": CALLBACK_TOKEN,
            "mode": mode,
            "encoding_aes_key": AES_KEY,
        }
    sandbox.register_app(appid, SECRET, "official_account", callback=callback, account_type=account_type)
    return account


def stored_image(name: str, *, size=(120, 80), noise: bool = False, fmt: str = "JPEG") -> str:
    """An image saved in media storage; returns the path it is served at (/media/...)."""
    if noise:  # random pixels do not compress: a photo-sized file of several MB
        rng = random.Random(name)
        image = Image.frombytes("RGB", size, bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3)))
    else:
        image = Image.new("RGB", size, "steelblue")
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": 100} if fmt == "JPEG" else {}))
    saved = default_storage.save(f"articles/inline/{name}", ContentFile(buffer.getvalue()))
    return f"/media/{saved}"


def push_created(
    account: OfficialAccount,
    *,
    articles: int = 1,
    contents: list[str] | None = None,
    audience: str = PushAudience.ALL,
    openids: list[str] | None = None,
    tag_id: int | None = None,
    mode: str = PushMode.MASS_SEND,
    status: str = PushStatus.SENDING,
) -> Push:
    push = Push.objects.create(
        account=account,
        title="Autumn teas",
        mode=mode,
        audience=audience,
        audience_tag_id=tag_id,
        audience_openids="\n".join(openids or []),
    )
    for position in range(1, articles + 1):
        content = contents[position - 1] if contents else f"<p>Article {position}.</p>"
        article = ArticleFactory(content=content)
        PushArticle.objects.create(push=push, article=article, position=position)
    path = {PushStatus.DRAFT: [], PushStatus.SCHEDULED: [PushStatus.SCHEDULED]}.get(
        status, [PushStatus.SCHEDULED, PushStatus.SENDING]
    )
    for to_status in path:
        push = push_transition(push_id=push.pk, to_status=to_status)
    return push


def wait_for(condition, *, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    """Poll `condition` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
