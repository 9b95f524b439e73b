from django.utils.translation import gettext_lazy as _

from config.errors import ApplicationError
from config.status_machine import StatusTransitionNotAllowed


class PushTransitionNotAllowed(StatusTransitionNotAllowed):
    code = "push_transition_not_allowed"
    message_template = _("A push cannot go from {from_status} to {to_status}.")


class FollowerSyncRunTransitionNotAllowed(StatusTransitionNotAllowed):
    """A bug, not a user error: only the sync itself finishes its runs."""

    code = "follower_sync_run_transition_not_allowed"
    message_template = _("A {from_status} follower sync cannot become {to_status}.")


class PushInvalid(ApplicationError):
    """A push that cannot be saved or scheduled as given; `fields` says which part and why."""

    code = "push_invalid"
    message = _("The push cannot be saved as it is.")


class PushNotEditable(ApplicationError):
    status_code = 409
    code = "push_not_editable"

    def __init__(self, *, status: str):
        super().__init__(_("This push is %(status)s: only drafts can be changed.") % {"status": status})


class PushNotCancellable(ApplicationError):
    status_code = 409
    code = "push_not_cancellable"

    def __init__(self, *, status: str):
        super().__init__(_("This push is %(status)s: only a scheduled push can be cancelled.") % {"status": status})


class MassSendQuotaFull(ApplicationError):
    """Scheduling would go over WeChat's mass-send quota for the window; says why and when there is room."""

    status_code = 409
    code = "mass_send_quota_full"

    def __init__(self, message: str, *, next_free_slot):
        self.next_free_slot = next_free_slot
        super().__init__(message, fields={"scheduled_at": [message]})


class PushNotSchedulable(ApplicationError):
    status_code = 409
    code = "push_not_schedulable"

    def __init__(self, *, status: str):
        super().__init__(
            _("This push is %(status)s: only drafts can be scheduled and failed pushes retried.") % {"status": status}
        )
