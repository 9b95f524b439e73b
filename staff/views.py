from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpResponseBadRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from staff.selectors import SESSION_KEY
from staff.services import UnknownLanguage, staff_language_set


@require_POST
@staff_member_required
def staff_language_switch(request):
    """The admin's user menu posts here (settings.UNFOLD["LANGUAGES"]["action"]): keep the choice for this user."""
    try:
        preference = staff_language_set(user=request.user, language=request.POST.get("language", ""))
    except UnknownLanguage:
        return HttpResponseBadRequest(_("Unknown language."))
    request.session[SESSION_KEY] = preference.language
    translation.activate(preference.language)
    # The theme's menu sends no "next": back to the page it was used on, as Django's set_language does.
    next_url = request.POST.get("next") or request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("admin:index")
    return HttpResponseRedirect(next_url)
