from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError
from config.status_machine import StatusTransitionNotAllowed


class SubscribeTemplatesUnknown(ApplicationError):
    code = "unknown_subscribe_template"
    message = _("Some of these templates are not this Mini Program's subscribe message templates.")


class SubscribeMessageTransitionNotAllowed(StatusTransitionNotAllowed):
    code = "subscribe_message_transition_not_allowed"
