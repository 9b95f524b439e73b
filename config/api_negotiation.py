"""DRF's content negotiation, with the answer to the Accept headers most clients send known in advance.

DRF parses every request's Accept header into media types and matches them against each renderer,
on the login a good part of what DRF's machinery costs (docs/benchmarks.md, bench/login.py). With
JSON as the first renderer, an Accept of */* (or none, which DRF reads as */*) or of exactly
application/json, no format suffix and no `?format=`, DRF always picks that renderer with the media
type application/json: this class answers those so without parsing. Any other request is negotiated
by DRF as before, its 406 and 404 included.
"""

from rest_framework.negotiation import DefaultContentNegotiation

JSON = "application/json"
# The Accept headers whose answer is known (a missing header is read as */*).
_PLAIN_ACCEPTS = frozenset({"*/*", JSON})


class JsonFirstContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            renderers
            and renderers[0].media_type == JSON
            and request.META.get("HTTP_ACCEPT", "*/*") in _PLAIN_ACCEPTS
            and not format_suffix
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], JSON
        return super().select_renderer(request, renderers, format_suffix)
