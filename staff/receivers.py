from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from staff.selectors import SESSION_KEY, staff_language_for


@receiver(user_logged_in, dispatch_uid="staff-language-into-session")
def staff_language_into_session(sender, request, user, **kwargs):
    """Read the user's language once, as they sign in, so no admin page needs a query for it."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = staff_language_for(user=user)
