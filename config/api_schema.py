"""The error body every API shares, for the OpenAPI schema, and the errors every operation can answer."""

from drf_spectacular import openapi
from drf_spectacular.drainage import has_override
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    "Error",
    fields={
        "code": serializers.CharField(help_text="Stable, machine-readable reason, e.g. invalid_login_code."),
        "message": serializers.CharField(help_text="Human-readable explanation."),
        "fields": serializers.DictField(
            child=serializers.JSONField(),
            help_text="Per-field messages for invalid input (a list of messages per field, nested like the input); "
            "details of a refusal; empty otherwise.",
        ),
    },
)

ERROR_RESPONSES = {
    status: OpenApiResponse(ErrorSerializer, description=description)
    for status, description in {
        400: "Invalid input or a refused request",
        403: "Not allowed",
        503: "WeChat or another dependency is unavailable",
    }.items()
}


# Answers that do not depend on what a view does, only on how it is set up (config.api_parsers,
# config.api_middleware, DRF's negotiation): every operation documents the ones that apply to it.
_PROTOCOL_ERRORS = {
    400: "Malformed request: invalid JSON, JSON nested too deeply, too many fields",
    401: "Missing, invalid or expired token",
    404: "Nothing at this path",
    406: "The Accept header does not allow application/json",
    413: "Request body too large",
    415: "Request body not sent as application/json",
    429: "Too many requests; Retry-After says how many seconds to wait",
}


class AutoSchema(openapi.AutoSchema):
    """Names nested serializers after their view: LoginApi.InputSerializer becomes LoginInput.

    Every view nests an InputSerializer and an OutputSerializer; without the prefix
    their schema components would collide. A name given with extend_schema_serializer(component_name=...)
    is taken as it is.

    Adds to each operation the protocol errors it can answer (see _PROTOCOL_ERRORS), so the
    schema says what clients will really get.
    """

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self._protocol_error_statuses():
            if str(status) not in responses:
                error = OpenApiResponse(ErrorSerializer, description=_PROTOCOL_ERRORS[status])
                responses[str(status)] = self._get_response_for_code(error, str(status), direction=direction)
        if "429" in responses:
            responses["429"]["headers"] = {
                "Retry-After": {"schema": {"type": "integer"}, "description": "Seconds until the limit resets"}
            }
        return dict(sorted(responses.items()))

    def _protocol_error_statuses(self) -> list[int]:
        statuses = [400, 406]
        if self.view.get_authenticators():
            statuses.append(401)
        if "{" in self.path:  # a path parameter names something that may not exist
            statuses.append(404)
        if self.method in {"POST", "PUT", "PATCH"}:
            statuses += [413, 415]
        if self.view.get_throttles():
            statuses.append(429)
        return statuses

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        if has_override(serializer, "component_name"):
            return name
        owner, _, nested = type(serializer).__qualname__.rpartition(".")
        if owner and nested in {"InputSerializer", "OutputSerializer"}:
            return owner.removesuffix("Api") + name
        return name
