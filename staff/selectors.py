from django.conf import settings

from staff.models import StaffLanguage

# The user's language, kept in their session once read, so admin pages add no query for it.
SESSION_KEY = "staff_language"


def staff_language_for(*, user) -> str:
    """The user's chosen language, else the site's default (Simplified Chinese)."""
    if not user.is_authenticated:
        return settings.LANGUAGE_CODE
    language = StaffLanguage.objects.filter(user=user).values_list("language", flat=True).first()
    return language or settings.LANGUAGE_CODE


def staff_language_for_request(request) -> str:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return settings.LANGUAGE_CODE
    language = request.session.get(SESSION_KEY)
    if language not in dict(settings.LANGUAGES):
        language = request.session[SESSION_KEY] = staff_language_for(user=user)
    return language
