"""Context the admin's theme (unfold) asks for on every page (settings.UNFOLD["GLOBAL_CALLBACK"])."""


def admin_theme_context(request) -> dict:
    # Django's own class on the messages container, so scripts and browser tests find the messages
    # the same way on any admin theme.
    return {"element_classes": {"messages": "messagelist"}}
