"""Requests refused before any view reads them."""

from django.http import HttpResponseBadRequest


class MalformedContentLengthMiddleware:
    """A Content-Length that is not a number of bytes is a malformed request (RFC 9110, 8.6): 400.

    Django would raise reading the body (int() of it) and answer 500 wherever a view reads one:
    the WeChat callbacks as much as the API. gunicorn refuses most such requests itself; runserver
    and other servers do not.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        declared = request.META.get("CONTENT_LENGTH", "")
        if declared and not declared.isdigit():
            return HttpResponseBadRequest("Content-Length must be a number of bytes.", content_type="text/plain")
        return self.get_response(request)
