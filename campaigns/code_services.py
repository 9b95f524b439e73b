"""Mini Program codes: staff ask for one, a worker has WeChat draw it (wxa/getwxacodeunlimit) and keeps the PNG.

The scene is made from the campaign's code in the same query form as article cards' paths, so the
Mini Program reads both alike: "c=<code>" for a page, "c=<code>&id=<product id>" for a product
(docs/api.md, "Where a visitor came from"). Everything WeChat's document says it would refuse is
refused here, before any call, with staff's words; what WeChat still refuses is recorded the same way.
"""

import logging
import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils.translation import gettext as _

from campaigns.code_status import MINI_PROGRAM_CODE_STATUS
from campaigns.exceptions import MiniProgramCodeInvalid
from campaigns.models import Campaign, MiniProgramCode
from catalog.models import Product
from catalog.selectors import PRODUCT_PAGE
from config import celery_app
from config.status_machine import StatusActor
from wechat.errors import WeChatPermanentError, WeChatRateLimited, WeChatTransientError
from wechat.miniprogram_codes import (
    SCENE_MAX_LENGTH,
    CodeArgumentInvalid,
    CodeArgumentsRefused,
    CodePageNotFound,
    unlimited_code_arguments_check,
    unlimited_code_get,
)
from wechat.models import MiniProgram

logger = logging.getLogger(__name__)

CODE_FOLDER = "campaigns/codes"
GENERATE_TASK = "campaigns.tasks.generate_mini_program_code"


def mini_program_code_scene(*, campaign: Campaign, product: Product | None) -> str:
    return f"c={campaign.code}&id={product.pk}" if product is not None else f"c={campaign.code}"


def _staff_words(problem: CodeArgumentInvalid, *, scene: str) -> dict[str, list[str]]:
    """The check's refusal as the form field staff can change and a sentence they can act on."""
    if problem.field == "scene":
        if len(scene) > SCENE_MAX_LENGTH:
            message = _(
                "The code's scene “%(scene)s” has %(length)d characters; WeChat takes at most %(limit)d. "
                "Choose a campaign with a shorter code."
            ) % {"scene": scene, "length": len(scene), "limit": SCENE_MAX_LENGTH}
        else:
            message = _("The code's scene “%(scene)s” has characters WeChat refuses. Change the campaign's code.") % {
                "scene": scene
            }
        return {"campaign": [message]}
    if problem.field == "page":
        return {
            "page": [
                _("Write the page as the Mini Program lists it, e.g. pages/index/index: no leading “/” and no “?”.")
            ]
        }
    if problem.field == "env_version":
        return {"env_version": [_("Choose the release, trial or development version.")]}
    return {"width": [_("Choose a width from 280 to 1280 px.")]}


def mini_program_code_check(
    *, campaign: Campaign, product: Product | None, page: str, env_version: str, width: int
) -> tuple[str, str]:
    """The page and scene a code of `product` (or `page`) for `campaign` would have, as WeChat would take them.

    Raises MiniProgramCodeInvalid, in staff's words and naming the field to change, for anything WeChat's
    document says it would refuse: the admin's form shows it before anything is saved or sent.
    """
    page = PRODUCT_PAGE if product is not None else page.strip()
    if not page:
        raise MiniProgramCodeInvalid(fields={"page": [_("Choose a product or write the page the code opens.")]})
    scene = mini_program_code_scene(campaign=campaign, product=product)
    try:
        unlimited_code_arguments_check(scene=scene, page=page, env_version=env_version, width=width)
    except CodeArgumentInvalid as problem:
        raise MiniProgramCodeInvalid(fields=_staff_words(problem, scene=scene)) from problem
    return page, scene


@transaction.atomic
def mini_program_code_request(
    *,
    campaign: Campaign,
    mini_program: MiniProgram,
    product: Product | None = None,
    page: str = "",
    env_version: str = MiniProgramCode.EnvVersion.RELEASE,
    width: int,
    staff_user: AbstractBaseUser | None = None,
) -> MiniProgramCode:
    """Ask for a code of `product`'s page or of `page`; a worker draws it once this transaction commits.

    Raises MiniProgramCodeInvalid, before anything is saved or sent, for what WeChat would refuse.
    """
    page, scene = mini_program_code_check(
        campaign=campaign, product=product, page=page, env_version=env_version, width=width
    )
    code = MiniProgramCode.objects.create(
        campaign=campaign,
        mini_program=mini_program,
        product=product,
        page=page,
        scene=scene,
        env_version=env_version,
        width=width,
        created_by=staff_user,
    )
    MINI_PROGRAM_CODE_STATUS.record_creation(code, actor=StatusActor.STAFF, staff_user=staff_user)
    _generation_queue(code.pk)
    return code


@transaction.atomic
def mini_program_code_regenerate(*, code_id: int, staff_user: AbstractBaseUser | None) -> MiniProgramCode:
    """Have WeChat draw the code again (staff asked); the current image stays until the new one is kept."""
    code = MINI_PROGRAM_CODE_STATUS.transition(
        pk=code_id, to_status=MiniProgramCode.Status.QUEUED, actor=StatusActor.STAFF, staff_user=staff_user
    )
    _generation_queue(code.pk)
    return code


def _generation_queue(code_id: int) -> None:
    # By name, not by importing campaigns.tasks (which imports this module), as orders' refunds do.
    transaction.on_commit(celery_app.signature(GENERATE_TASK, args=[code_id]).delay)


def mini_program_code_generate(*, code_id: int) -> None:
    """Draw a queued code at WeChat and keep the PNG, or record why WeChat would not; transient errors propagate.

    Idempotent: a code no longer queued (drawn, failed, or gone) is left as it is.
    """
    code = MiniProgramCode.objects.select_related("mini_program").filter(pk=code_id).first()
    if code is None or code.status != MiniProgramCode.Status.QUEUED:
        return
    try:
        image = unlimited_code_get(
            mini_program=code.mini_program,
            scene=code.scene,
            page=code.page,
            env_version=code.env_version,
            width=code.width,
        )
    except WeChatTransientError:
        raise
    except CodePageNotFound:
        _failed(
            code_id,
            _(
                "WeChat found no page “%(page)s” in the Mini Program's %(version)s version (41030). Publish the "
                "page, or choose another page or version, then make the code again."
            )
            % {"page": code.page, "version": code.get_env_version_display()},
        )
        return
    except CodeArgumentsRefused:
        _failed(code_id, _("WeChat refused the code's page, scene or version (40097). Check them and try again."))
        return
    except CodeArgumentInvalid as problem:  # a row written outside the admin
        _failed(code_id, str(problem))
        return
    except WeChatPermanentError as error:
        _failed(code_id, _("WeChat would not make the code: %(error)s") % {"error": error})
        return
    name = default_storage.save(f"{CODE_FOLDER}/{code_id}-{uuid.uuid4().hex[:12]}.png", ContentFile(image.png))
    with transaction.atomic():
        locked = MINI_PROGRAM_CODE_STATUS.lock(code_id)
        if locked.status != MiniProgramCode.Status.QUEUED:
            transaction.on_commit(lambda: default_storage.delete(name))
            return
        previous = locked.image.name
        MINI_PROGRAM_CODE_STATUS.change(
            locked, to_status=MiniProgramCode.Status.READY, actor=StatusActor.SYSTEM, fields={"image": name}
        )
        if previous:
            transaction.on_commit(lambda: default_storage.delete(previous))


def mini_program_code_give_up(*, code_id: int, error: WeChatTransientError) -> None:
    """The worker's last try found WeChat still busy or limiting: record it in staff's words."""
    if isinstance(error, WeChatRateLimited):
        reason = _(
            "WeChat makes at most 5,000 codes a minute and refused more (45009). Make the code again in a few minutes."
        )
    else:
        reason = _("WeChat stayed unavailable. Make the code again later.")
    logger.warning("Mini Program code %s: giving up after %s", code_id, error)
    _failed(code_id, reason)


@transaction.atomic
def _failed(code_id: int, reason: str) -> None:
    code = MINI_PROGRAM_CODE_STATUS.lock(code_id)
    if code.status == MiniProgramCode.Status.QUEUED:
        MINI_PROGRAM_CODE_STATUS.change(
            code, to_status=MiniProgramCode.Status.FAILED, actor=StatusActor.SYSTEM, reason=reason
        )
