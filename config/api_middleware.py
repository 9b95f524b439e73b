"""Every answer under /api/ in the API's shape, even for errors no API view saw.

DRF views answer their own errors through config.exception_handler. Outside them Django
answers in HTML: an unknown path or a trailing slash (404), a malformed request (400),
a crash (500, or DEBUG's technical page). This middleware, outermost, turns any such
answer under /api/ into the error body; the admin and everything else keep their pages.
"""

import logging
import sys
from http import HTTPStatus

from django.conf import settings
from django.core.signals import got_request_exception
from django.http import JsonResponse
from django.middleware.common import CommonMiddleware
from django.urls import Resolver404, resolve
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from config.api_language import api_language
from config.exception_handler import DependencyUnavailable, error_body
from config.outages import RETRY_AFTER_SECONDS, is_dependency_outage, outage_name

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"

# Set on a request whose answer failed because a dependency is down (see _note_an_outage).
_OUTAGE_MARK = "api.dependency_outage"

# Headers that tell the client what to do next; kept when the body is replaced.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")

_ERRORS = {
    400: ("bad_request", gettext_lazy("The request is malformed.")),
    401: ("not_authenticated", gettext_lazy("Authentication credentials were not provided.")),
    403: ("permission_denied", gettext_lazy("You do not have permission to perform this action.")),
    404: ("not_found", gettext_lazy("There is no API at this path.")),
    405: ("method_not_allowed", gettext_lazy("This method is not allowed here.")),
    406: ("not_acceptable", gettext_lazy("The API answers only application/json.")),
    413: ("request_too_large", gettext_lazy("The request body is too large.")),
    415: ("unsupported_media_type", gettext_lazy("Send the request body as application/json.")),
    429: ("throttled", gettext_lazy("Too many requests. Try again later.")),
    500: ("server_error", gettext_lazy("Something went wrong on our side. Please try again later.")),
}


def is_api_path(path: str) -> bool:
    return path.startswith(API_PREFIX)


class ApiErrorBodyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code < 400 or not is_api_path(request.path_info):
            return response
        if response.get("Content-Type", "").startswith("application/json"):
            return response  # an API view's own error body
        return self._error_response(request, response)

    def _error_response(self, request, original):
        # This runs outside the middleware that picks the language, so it picks it again.
        with translation.override(api_language(request)):
            return self._error_response_in_language(request, original)

    def _error_response_in_language(self, request, original):
        status = original.status_code
        if status == 500 and request.META.get(_OUTAGE_MARK):
            return _outage_response()
        code, message = _ERRORS.get(status) or _error_from_phrase(status)
        if status == 404 and request.path_info.endswith("/") and _resolves(request.path_info.rstrip("/")):
            message = _("API paths have no trailing slash: %(path)s") % {"path": request.path_info.rstrip("/")}
        response = JsonResponse(error_body(code, str(message), {}), status=status)
        for header in _KEPT_HEADERS:
            if header in original:
                response[header] = original[header]
        return response


def _outage_response() -> JsonResponse:
    response = JsonResponse(
        error_body(DependencyUnavailable.default_code, str(DependencyUnavailable.default_detail), {}), status=503
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _note_an_outage(sender, request=None, **kwargs):
    """Marks a request that failed outside a DRF view (a middleware, a plain view) because the
    database or the cache is down, so its 500 is answered as the outage it is. Django sends this
    signal from inside its exception handler, so the error is the one being handled."""
    error = sys.exc_info()[1]
    if request is not None and error is not None and is_dependency_outage(error):
        logger.error(outage_name(error))
        request.META[_OUTAGE_MARK] = True


got_request_exception.connect(_note_an_outage, dispatch_uid="config.api_middleware.note_an_outage")


def _error_from_phrase(status: int) -> tuple[str, str]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "error", _("The request failed.")
    return phrase.lower().replace(" ", "_").replace("-", "_"), f"{phrase}."


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


class ApiBodySizeLimitMiddleware:
    """Refuses an /api/ request whose declared body exceeds API_MAX_BODY_BYTES, before it is read.

    Django reads a body whole into memory up to DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), and DRF
    reads it whole before parsing; the API needs far less. A body without Content-Length is
    never read by Django, so the declared length bounds what is read.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH", "")
        limit = settings.API_MAX_BODY_BYTES
        if is_api_path(request.path_info) and declared.isdigit() and int(declared) > limit:
            message = f"The request body is larger than the API accepts ({limit} bytes)."
            return JsonResponse(error_body("request_too_large", message, {}), status=413)
        return self.get_response(request)


class ApiAwareCommonMiddleware(CommonMiddleware):
    """Django's CommonMiddleware, except that API paths are never redirected to add a slash:
    a client that gets a path wrong gets a 404 that says so, not a redirect it may not follow
    (and a POST cannot follow at all)."""

    def should_redirect_with_slash(self, request):
        return not is_api_path(request.path_info) and super().should_redirect_with_slash(request)
