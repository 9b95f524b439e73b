"""Where a Mini Program visitor came from, as the Mini Program reports it on login and on each order.

`scene` is the launch scene (场景值) of wx.getLaunchOptionsSync(): 1058 an article, 1035 the Official
Account's menu, 1047/1048/1049 a Mini Program code scanned, photographed or long-pressed, ... Every
value WeChat documents has four digits. `campaign` is the campaign code `c` the Mini Program read from
its page query or from a code's `scene`: kept as given even when no campaign of ours has it (a code
printed before the campaign was entered, a typo on a poster), since the figures are staff's to sort
out, and refusing it would refuse the order. `path` is the page the Mini Program opened.
"""

from dataclasses import dataclass

from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from wechat.miniprogram_codes import SCENE_CHARACTERS, SCENE_MAX_LENGTH

SCENE_MIN, SCENE_MAX = 1000, 9999
PATH_MAX_LENGTH = 256

_campaign_characters = RegexValidator(
    f"^[{SCENE_CHARACTERS}]*\\Z",  # \Z, not $, which lets a trailing line break through
    _("Use letters, digits and !#$&'()*+,/:;=?@-._~ only, as in a Mini Program code's scene."),
)
# A page path, with or without its query, as the Mini Program has it: anything but spaces and control characters.
_path_characters = RegexValidator(
    r"^[^\s\x00-\x1f\x7f]*\Z", _("A page path has no spaces, line breaks or control characters.")
)


@dataclass(frozen=True)
class Source:
    """A launch source: scene (None when not sent), campaign code and page path ("" when not sent)."""

    scene: int | None = None
    campaign: str = ""
    path: str = ""


def source_scene_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=SCENE_MIN,
        max_value=SCENE_MAX,
        help_text="The launch scene, wx.getLaunchOptionsSync().scene: 1058 an article, 1035 the Official Account's "
        "menu, 1047/1048/1049 a Mini Program code, ...",
        **kwargs,
    )


def source_campaign_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=SCENE_MAX_LENGTH,
        validators=[_campaign_characters],
        help_text="The campaign code: `c` of the page's query, or of a Mini Program code's `scene` "
        "(decodeURIComponent it, then read it as a query). Kept as sent, ours or not.",
        **kwargs,
    )


def source_path_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=PATH_MAX_LENGTH,
        validators=[_path_characters],
        help_text="The page opened, wx.getLaunchOptionsSync().path, e.g. pages/product/detail.",
        **kwargs,
    )


class SourceInputSerializer(serializers.Serializer):
    """A launch source as the Mini Program sends it; validated_data is a Source."""

    scene = source_scene_field()
    campaign = source_campaign_field()
    path = source_path_field()

    def to_internal_value(self, data) -> Source:
        values = super().to_internal_value(data)
        return Source(scene=values.get("scene"), campaign=values.get("campaign", ""), path=values.get("path", ""))
