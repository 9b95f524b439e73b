from config.errors import ApplicationError


class PushTransitionNotAllowed(ApplicationError):
    status_code = 409
    code = "push_transition_not_allowed"

    def __init__(self, *, from_status: str, to_status: str):
        super().__init__(f"A push cannot go from {from_status} to {to_status}.")
