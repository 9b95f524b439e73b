"""The error body every API shares, for the OpenAPI schema."""

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    "Error",
    fields={
        "code": serializers.CharField(help_text="Stable, machine-readable reason, e.g. invalid_login_code."),
        "message": serializers.CharField(help_text="Human-readable explanation."),
        "fields": serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            help_text="Per-field messages for invalid input; empty otherwise.",
        ),
    },
)

ERROR_RESPONSES = {
    status: OpenApiResponse(ErrorSerializer, description=description)
    for status, description in {
        400: "Invalid input or a refused request",
        401: "Missing or invalid token",
        403: "Not allowed",
        429: "Too many requests",
        503: "WeChat or another dependency is unavailable",
    }.items()
}


class AutoSchema(openapi.AutoSchema):
    """Names nested serializers after their view: LoginApi.InputSerializer becomes LoginInput.

    Every view nests an InputSerializer and an OutputSerializer; without the prefix
    their schema components would collide.
    """

    def _get_serializer_name(self, serializer, direction, bypass_extensions=False):
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        owner, _, nested = type(serializer).__qualname__.rpartition(".")
        if owner and nested in {"InputSerializer", "OutputSerializer"}:
            return owner.removesuffix("Api") + name
        return name
