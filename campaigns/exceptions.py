from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError
from config.status_machine import StatusTransitionNotAllowed


class CampaignInvalid(ApplicationError):
    """A campaign that cannot be saved as given; `fields` says which part and why."""

    code = "campaign_invalid"
    message = _("The campaign cannot be saved as it is.")


class MiniProgramCodeInvalid(ApplicationError):
    """A Mini Program code WeChat would refuse, found before any call; `fields` says which part and why."""

    code = "mini_program_code_invalid"
    message = _("WeChat would refuse this Mini Program code.")


class MiniProgramCodeTransitionNotAllowed(StatusTransitionNotAllowed):
    code = "mini_program_code_transition_not_allowed"
    message_template = _("A Mini Program code cannot go from {from_status} to {to_status}.")
