from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError, ServiceUnavailable


class InvalidLoginCode(ApplicationError):
    code = "invalid_login_code"
    message = _("The login code is invalid, expired or already used. Call wx.login() again for a new one.")


class LoginBlocked(ApplicationError):
    status_code = 403
    code = "login_blocked"
    message = _("WeChat has blocked this user from logging in.")


class WeChatUnavailable(ServiceUnavailable):
    code = "wechat_unavailable"
    message = _("WeChat is busy right now. Please try again in a moment.")


class WeChatLoginMisconfigured(ServiceUnavailable):
    code = "wechat_misconfigured"
    message = _("Logging in is unavailable: this service is misconfigured for WeChat. Its operators have been alerted.")


class UnknownMiniProgram(ApplicationError):
    code = "unknown_mini_program"
    message = _("This Mini Program is not one this shop serves.")
