"""Writes of campaigns: those staff create, and the automatic one of each push and article."""

import re
import uuid

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from campaigns.exceptions import CampaignInvalid
from campaigns.models import Campaign
from wechat.miniprogram_codes import SCENE_CHARACTERS, SCENE_MAX_LENGTH

# Codes made for us: p<push id>, a<article id>, c<campaign id> for a staff campaign left without one.
AUTOMATIC_PREFIXES = {Campaign.Channel.PUSH: "p", Campaign.Channel.ARTICLE: "a"}
STAFF_AUTOMATIC_PREFIX = "c"
AUTOMATIC_CODE = re.compile(r"[pac][0-9]+")
_CODE = re.compile(f"[{SCENE_CHARACTERS}]+")


def campaign_code_problem(code: str) -> str | None:
    """Why staff cannot choose `code`, in their words; None when they can."""
    if len(code) > SCENE_MAX_LENGTH:
        return _("A code has at most %(limit)d characters (WeChat's limit for a scene); this has %(length)d.") % {
            "limit": SCENE_MAX_LENGTH,
            "length": len(code),
        }
    if not _CODE.fullmatch(code):
        return _("Use letters, digits and !#$&'()*+,/:;=?@-._~ only: WeChat refuses other characters in a scene.")
    if AUTOMATIC_CODE.fullmatch(code):
        return _("Codes such as p12, a12 and c12 are given to pushes, articles and campaigns automatically.")
    return None


@transaction.atomic
def campaign_create(*, name: str, channel: str, code: str = "", staff_user: AbstractBaseUser | None = None) -> Campaign:
    """A campaign staff start (a poster, a livestream); without a code it gets c<its id>."""
    code = code.strip()
    if code and (problem := campaign_code_problem(code)):
        raise CampaignInvalid(fields={"code": [problem]})
    campaign = Campaign(name=name, channel=channel, code=code or f"new-{uuid.uuid4().hex[:24]}", created_by=staff_user)
    try:
        with transaction.atomic():
            campaign.save()
    except IntegrityError as error:
        raise CampaignInvalid(
            fields={"code": [_("Another campaign has the code “%(code)s”.") % {"code": code}]}
        ) from error
    if not code:
        campaign.code = f"{STAFF_AUTOMATIC_PREFIX}{campaign.pk}"
        campaign.save(update_fields=["code"])
    return campaign


@transaction.atomic
def campaign_automatic_ensure(*, channel: str, number: int, name: str) -> Campaign:
    """The campaign of push or article `number` (code p<number> / a<number>), made the first time it is asked for."""
    code = f"{AUTOMATIC_PREFIXES[channel]}{number}"
    campaign, created = Campaign.objects.get_or_create(code=code, defaults={"name": name[:100], "channel": channel})
    if not created and campaign.name != name[:100]:
        campaign.name = name[:100]
        campaign.save(update_fields=["name"])
    return campaign
