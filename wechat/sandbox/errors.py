"""How sandbox handlers say no: WeChat's errcode answers, and 400s for bad control input."""

# WeChat's own wording, so code that logs or matches errmsg sees what production sends.
ERRMSGS: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40013: "invalid appid",
    40014: "invalid access_token",
    40029: "invalid code",
    40125: "invalid appsecret",
    40226: "high risk user",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41008: "missing code",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
}


class WeChatErrcode(Exception):
    """Answered like WeChat answers errors: HTTP 200 with {"errcode": N, "errmsg": "..."}."""

    def __init__(self, errcode: int, errmsg: str | None = None):
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSGS.get(errcode, "error injected by the WeChat sandbox")
        super().__init__(f"{errcode} {self.errmsg}")


class BadControlInput(Exception):
    """A control API request the sandbox cannot act on; answered 400 with the message."""
