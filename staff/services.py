from django.conf import settings
from django.db import transaction

from staff.models import StaffLanguage


class UnknownLanguage(ValueError):
    pass


@transaction.atomic
def staff_language_set(*, user, language: str) -> StaffLanguage:
    if language not in dict(settings.LANGUAGES):
        raise UnknownLanguage(language)
    preference, _created = StaffLanguage.objects.update_or_create(user=user, defaults={"language": language})
    return preference
