"""One error body for every API: {"code": ..., "message": ..., "fields": {...}}."""

from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from config.errors import ApplicationError


def api_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(_body(exc.code, exc.message, exc.fields), status=exc.status_code)

    response = drf_exception_handler(exc, context)  # also turns Http404 and PermissionDenied into API errors
    if response is None:
        return None  # a bug: let Django report it as a 500

    if isinstance(exc, exceptions.ValidationError):
        fields = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = _body("invalid", "Some fields are invalid.", fields)
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else response.data
        code = exc.default_code if isinstance(exc, exceptions.APIException) else "error"
        if response.status_code == status.HTTP_404_NOT_FOUND:
            code = "not_found"
        response.data = _body(code, str(detail), {})
    return response


def _body(code: str, message: str, fields: dict) -> dict:
    return {"code": code, "message": message, "fields": fields}
