"""One error body for every API: {"code": ..., "message": ..., "fields": {...}}."""

import logging

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import ApplicationError
from config.outages import RETRY_AFTER_SECONDS, is_dependency_outage, outage_name

logger = logging.getLogger(__name__)


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, str(exc.message), exc.fields), status=exc.status_code)

    exc = _as_api_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django logs it and config.api_middleware answers a 500 in the error body

    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = error_body("invalid", str(_("Some fields are invalid.")), _shopper_wording(fields))
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        response.data = error_body(exc.default_code, str(detail), {})
    return response


# DRF's messages that name its internals ('Invalid pk "999" - object does not exist.', "Incorrect type.
# Expected pk value, received str."), by their stable codes, as sentences a shopper can be shown.
_SHOPPER_WORDING = {
    "does_not_exist": _("This item does not exist or is no longer available."),
    "incorrect_type": _("This value is of the wrong type."),
    "not_a_list": _("Send a list here."),
    "not_a_dict": _("Send an object here."),
}


def _shopper_wording(detail):
    if isinstance(detail, dict):
        return {key: _shopper_wording(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_shopper_wording(item) for item in detail]
    if isinstance(detail, exceptions.ErrorDetail) and detail.code in _SHOPPER_WORDING:
        return exceptions.ErrorDetail(str(_SHOPPER_WORDING[detail.code]), code=detail.code)
    return detail


def _as_api_exception(exc: Exception) -> Exception:
    """Django's own refusals, raised inside a view, as the API exceptions they amount to."""
    if isinstance(exc, Http404):
        return exceptions.NotFound(*exc.args)
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied(*exc.args)
    if isinstance(exc, RequestDataTooBig):
        return RequestTooLarge()
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent):
        return TooManyFields()
    if isinstance(exc, SuspiciousOperation):
        return BadRequest()
    if is_dependency_outage(exc):
        # The database, or the shared cache holding rate limits and WeChat tokens: without it
        # nothing can be served, and the client should come back later rather than read it as our bug.
        logger.error(outage_name(exc))
        return DependencyUnavailable()
    return exc


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = _("The request body is too large.")


class DependencyUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "service_unavailable"
    default_detail = _("A service we depend on is unavailable. Please try again shortly.")
    wait = RETRY_AFTER_SECONDS  # DRF's handler sends it as Retry-After


class BadRequest(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_request"
    default_detail = _("The request is malformed.")


class TooManyFields(BadRequest):
    default_code = "too_many_fields"
    default_detail = _("The request has too many fields.")


def error_body(code: str, message: str, fields: dict) -> dict:
    return {"code": code, "message": message, "fields": fields}
