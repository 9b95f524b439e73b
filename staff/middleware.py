"""Which language a request is answered in.

The API answers shoppers in the language their client asks for (Accept-Language), Chinese when it asks
for none we have. Everything else is the staff side: the signed-in user's own choice (StaffLanguage),
else Chinese, whatever the browser's Accept-Language says, because staff set their language once in
the admin rather than in their browser. Runs after AuthenticationMiddleware.
"""

from django.utils import translation
from django.utils.cache import patch_vary_headers

from config.api_language import api_language
from config.api_middleware import is_api_path
from staff.selectors import staff_language_for_request


class LanguageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api_path(request.path_info):
            language = api_language(request)
        else:
            language = staff_language_for_request(request)
        # Only for this request: the thread (a test, a worker's next job) goes back to its own language.
        with translation.override(language):
            request.LANGUAGE_CODE = translation.get_language()
            response = self.get_response(request)
        if is_api_path(request.path_info) and response.status_code >= 400:
            # Only error bodies carry words; the storefront's cached answers are the same in any language.
            patch_vary_headers(response, ("Accept-Language",))
            response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response
