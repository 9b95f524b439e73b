"""Domain errors. Services raise these; config.exception_handler maps them to HTTP."""


class ApplicationError(Exception):
    """A refusal the caller can act on: a stable code, a human message, optional per-field messages."""

    status_code = 400
    code = "invalid_request"
    message = "The request cannot be processed."

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
    message = "A service we depend on is busy. Please try again shortly."
