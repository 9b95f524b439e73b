"""Every answer under /api/ in the API's shape, even for errors no API view saw.

DRF views answer their own errors through config.exception_handler. Outside them Django
answers in HTML: an unknown path or a trailing slash (404), a malformed request (400),
a crash (500, or DEBUG's technical page). This middleware, outermost, turns any such
answer under /api/ into the error body; the admin and everything else keep their pages.
"""

from http import HTTPStatus

from django.conf import settings
from django.http import JsonResponse
from django.middleware.common import CommonMiddleware
from django.urls import Resolver404, resolve

from config.exception_handler import error_body

API_PREFIX = "/api/"

# Headers that tell the client what to do next; kept when the body is replaced.
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")

_ERRORS = {
    400: ("bad_request", "The request is malformed."),
    401: ("not_authenticated", "Authentication credentials were not provided."),
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "There is no API at this path."),
    405: ("method_not_allowed", "This method is not allowed here."),
    406: ("not_acceptable", "The API answers only application/json."),
    413: ("request_too_large", "The request body is too large."),
    415: ("unsupported_media_type", "Send the request body as application/json."),
    429: ("throttled", "Too many requests. Try again later."),
    500: ("server_error", "Something went wrong on our side. Please try again later."),
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
        status = original.status_code
        code, message = _ERRORS.get(status) or _error_from_phrase(status)
        if status == 404 and request.path_info.endswith("/") and _resolves(request.path_info.rstrip("/")):
            message = f"API paths have no trailing slash: {request.path_info.rstrip('/')}"
        response = JsonResponse(error_body(code, message, {}), status=status)
        for header in _KEPT_HEADERS:
            if header in original:
                response[header] = original[header]
        return response


def _error_from_phrase(status: int) -> tuple[str, str]:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "error", "The request failed."
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
