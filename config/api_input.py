"""An API view's input validated by one serializer instance a process, not one a request.

DRF deep-copies a serializer's declared fields, and a nested serializer's, into every new instance:
on the login most of what validating its input costs (docs/benchmarks.md, bench/login.py).
Validating a JSON object stores nothing on the serializer (run_validation returns the data or
raises), so one instance serves every request and thread, with the same errors as is_valid(); one
per language, because a field's limit messages ("Ensure this value is greater than or equal to
1000.") are worded once, in the language active when first shown, and kept by the field. Only for
serializers whose validation reads neither `context` nor `instance`.
"""

import functools
from collections.abc import Mapping

from django.utils import translation
from rest_framework import serializers


def validated_input(serializer_class: type[serializers.Serializer], data) -> dict:
    """serializer_class(data=data).is_valid(raise_exception=True)'s validated_data, or its ValidationError."""
    if not isinstance(data, Mapping):
        # is_valid() words the errors of some of these (a JSON null) its own way: let it.
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data
    return _shared(serializer_class, translation.get_language()).run_validation(data)


@functools.cache
def _shared(serializer_class: type[serializers.Serializer], language: str | None) -> serializers.Serializer:
    return serializer_class()
