"""Domain errors. Services raise these; config.exception_handler maps them to HTTP."""

from django.utils.translation import gettext_lazy as _


class ApplicationError(Exception):
    """A refusal the caller can act on: a stable code, a human message, optional per-field messages.

    Messages are written wrapped (gettext_lazy on the class, gettext where raised) so that a shopper
    reads them in their Accept-Language, Chinese by default; `code` stays English for clients to switch on.
    """

    status_code = 400
    code = "invalid_request"
    message = _("The request cannot be processed.")

    def __init__(self, message: str | None = None, *, fields: dict | None = None, code: str | None = None):
        self.message = message or self.message
        self.fields = fields or {}
        if code:
            self.code = code
        super().__init__(self.message)


class ServiceUnavailable(ApplicationError):
    """A dependency (WeChat, usually) is down or busy; the client may try again later."""

    status_code = 503
    code = "service_unavailable"
    message = _("A service we depend on is busy. Please try again shortly.")
