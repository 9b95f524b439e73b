"""The API's only request parser: JSON, refusing deep nesting before it parses.

Python's json module recurses once per nesting level, so a small body of nested brackets
raises RecursionError (a 500) long before any serializer sees it. The nesting is measured
on the raw text first. (The body's size is limited before it is read, by
config.api_middleware.ApiBodySizeLimitMiddleware.)
"""

import re

from django.conf import settings
from rest_framework import exceptions, parsers
from rest_framework.utils import json

# Only these characters change nesting: brackets outside strings, quotes, and the
# backslash that can escape a quote inside a string.
_STRUCTURAL = re.compile(r'[\[\]{}"\\]')


def json_nesting_exceeds(text: str, limit: int) -> bool:
    """Whether arrays and objects in `text` nest deeper than `limit`, without parsing it."""
    depth = 0
    in_string = False
    escaped_index = -1
    for match in _STRUCTURAL.finditer(text):
        character, index = match.group(), match.start()
        if index == escaped_index:
            continue
        if in_string:
            if character == "\\":
                escaped_index = index + 1
            elif character == '"':
                in_string = False
        elif character == '"':
            in_string = True
        elif character in "[{":
            depth += 1
            if depth > limit:
                return True
        elif character in "]}":
            depth -= 1
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        try:
            text = stream.read().decode(parsers.get_encoding(parser_context))
        except (UnicodeDecodeError, LookupError) as error:
            raise exceptions.ParseError(f"The request body is not valid text: {error}") from error
        max_depth = settings.API_MAX_JSON_DEPTH
        if json_nesting_exceeds(text, max_depth):
            raise exceptions.ParseError(f"JSON nested deeper than {max_depth} levels is refused.")
        try:
            return json.loads(text, parse_constant=json.strict_constant if self.strict else None)
        except ValueError as error:
            raise exceptions.ParseError(f"JSON parse error - {error}") from error
