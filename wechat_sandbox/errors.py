"""How sandbox handlers say no: WeChat's errcode answers, and the control API's own errors."""

from __future__ import annotations

# WeChat's own wording, so code that logs or matches errmsg sees what production sends
# (before the ", rid: ..." suffix every error gets). Sources: 公众号 "全局返回码说明" and
# 小程序 "错误码" (the general codes), 微信小店 "公共错误码" (40066, 43002, 44002, 45002,
# 47001, 48001), "小程序登录凭证校验 code2Session, 错误码" (40029, 40226 "code blocked",
# 45011), "检验登录态 checkSessionKey, 错误码" (87009), "获取接口调用凭据 getAccessToken /
# getStableAccessToken" (40002, 40013, 40125, 40164, 45009). 40163 is in no table but is
# what jscode2session answers a reused code ("code been used, rid: 680a9de1-5392a330-75f1ca8d",
# quoted on 微信开放社区 developers.weixin.qq.com/community). Publishing: "上传图文消息图片
# uploadImage, 错误码" (40005, 40009); 全局返回码说明 for the media, news and mass-send codes
# (40003, 40004, 40006, 40007, 40008, 40032, 41005, 44003, 44004, 45003, 45004, 45005,
# 45008, 45028, 45110, 45159); "群发接口和原创校验" for 40130, 45065 and 45067. Followers:
# "用户管理 / 用户标签管理" for 45056, 45059, 45157 and 45158 (its table gives them in Chinese
# only; these English wordings are ours). Mini Program codes: "获取不限制的小程序码 getUnlimitedQRCode,
# 错误码" (40097, 41030). Statistics (datacube): 全局返回码说明 61500 日期格式错误 and
# 61501 日期范围错误, worded as WeChat answers them ("date range error", quoted on 微信开放社区).
ERRMSGS: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40003: "invalid openid",
    40004: "invalid media type",
    40005: "invalid file type",
    40006: "invalid media size",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40032: "invalid openid list size",
    40066: "invalid url",
    40097: "invalid args",
    40125: "invalid appsecret",
    40130: "invalid openid list size, at least two openid",
    40163: "code been used",
    40164: "invalid ip, not in whitelist",
    40226: "code blocked",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    41008: "missing code",
    41009: "missing openid",
    41030: "invalid page",
    42001: "access_token expired",
    43001: "require GET method",
    43002: "require POST method",
    44002: "empty post data",
    44003: "empty news data",
    44004: "empty content",
    45002: "content size out of limit",
    45003: "title size out of limit",
    45004: "description size out of limit",
    45005: "url size out of limit",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    45028: "has no masssend quota",
    45056: "too many tags now, no need to add new",
    45059: "tag number of this fan out of limit",
    45065: "clientmsgid exist",
    45067: "clientmsgid size out of limit",
    45110: "author size out of limit",
    45157: "invalid tag name",
    45158: "tag name too long",
    45159: "invalid tag id",
    47001: "data format error",
    48001: "api unauthorized",
    61500: "date format error",
    61501: "date range error",
    87009: "invalid signature",
}

# WeChat Pay v2's err_code values and their err_code_des (支付 v2 "统一下单, 错误码", "查询订单, 错误码",
# "关闭订单, 错误码", "申请退款, 错误码", "查询退款, 错误码"): text, not numbers.
PAY_ERR_CODE_DESCRIPTIONS: dict[str, str] = {
    "INVALID_REQUEST": "参数错误",
    "TRADE_STATE_ERROR": "订单状态错误",
    "REFUND_FEE_MISMATCH": "订单金额或退款金额与之前请求不一致，请核实后再试",
    "REFUNDNOTEXIST": "退款订单查询失败",
    "ERROR": "业务错误",
    "SYSTEMERROR": "系统错误",
    "NOAUTH": "商户无此接口权限",
    "NOTENOUGH": "余额不足",
    "ORDERPAID": "商户订单已支付",
    "ORDERCLOSED": "订单已关闭",
    "ORDERNOTEXIST": "此交易订单号不存在",
    "APPID_NOT_EXIST": "APPID不存在",
    "MCHID_NOT_EXIST": "MCHID不存在",
    "APPID_MCHID_NOT_MATCH": "appid和mch_id不匹配",
    "LACK_PARAMS": "缺少参数",
    "OUT_TRADE_NO_USED": "商户订单号重复",
    "SIGNERROR": "签名错误",
    "XML_FORMAT_ERROR": "XML格式错误",
    "REQUIRE_POST_METHOD": "请使用post方法",
    "POST_DATA_EMPTY": "post数据为空",
    "NOT_UTF8": "编码格式错误",
    "FREQUENCY_LIMITED": "频率限制",
}

ErrorCode = int | str


class WeChatErrcode(Exception):
    """Answered in the route's protocol: for api.weixin.qq.com HTTP 200 {"errcode": N, "errmsg": "..., rid: ..."};
    for WeChat Pay a text code (e.g. "SYSTEMERROR") as <err_code> with <err_code_des>.

    `extra`: fields WeChat adds to this error's JSON answer (45065 carries the existing msg_id).
    """

    def __init__(self, errcode: ErrorCode, errmsg: str | None = None, *, extra: dict | None = None):
        self.errcode = errcode
        self.errmsg = errmsg or default_errmsg(errcode)
        self.extra = extra or {}
        super().__init__(f"{errcode} {self.errmsg}")


def default_errmsg(errcode: ErrorCode) -> str:
    if isinstance(errcode, str):
        return PAY_ERR_CODE_DESCRIPTIONS.get(errcode, "error injected by the WeChat sandbox")
    return ERRMSGS.get(errcode, "error injected by the WeChat sandbox")


class ControlError(Exception):
    """A control API request the sandbox cannot act on; answered with `status` and the message."""

    status = 400


class BadControlInput(ControlError):
    """Control input the sandbox cannot act on: 400 with the reason."""


class ControlNotFound(ControlError):
    """A control request naming something that does not exist: 404."""

    status = 404


class NotSnapshottable(ControlError):
    """A feature keeps state the snapshot protocol does not cover (a sandbox bug): 500 naming it."""

    status = 500
