"""What WeChat's refusals of the Official Account calls we make mean, in words for staff.

From 全局返回码说明 and the error lists of 群发接口和原创校验, 新建草稿 and 上传永久素材: the
codes staff meet when a push or a preview fails, and the statistics' 61500 and 61501 (全局返回码说明).
Others are shown as WeChat worded them.
"""

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from wechat.errors import WeChatError

ERRCODE_WORDS = {
    40003: gettext_lazy("the recipient does not follow this account"),
    40007: gettext_lazy("WeChat does not know the draft or image we referred to"),
    40130: gettext_lazy("WeChat sends to a list of at least 2 openids"),
    44003: gettext_lazy("the push has no articles"),
    45002: gettext_lazy("an article's content is too long"),
    45003: gettext_lazy("an article's title is too long"),
    45028: gettext_lazy("no mass-send quota left in this window (it may have been used in WeChat's own console)"),
    45159: gettext_lazy("the tag no longer exists at WeChat"),
    48001: gettext_lazy("this Official Account is not allowed to use the mass-send API"),
    61500: gettext_lazy("WeChat could not read the statistics' dates"),
    61501: gettext_lazy("WeChat refused the statistics' date range (too long, or not yet over)"),
}


def wechat_error_reason(error: WeChatError) -> str:
    """The error as staff should read it: WeChat's code with its meaning when we know it, else WeChat's words."""
    words = ERRCODE_WORDS.get(error.errcode) if isinstance(error.errcode, int) else None
    return _("WeChat error %(code)s: %(words)s") % {"code": error.errcode, "words": words} if words else str(error)
