"""Reads about articles shared by the admin and its preview pages."""

from wechat.models import OfficialAccount

# Shown when no Official Account has been added yet.
PREVIEW_ACCOUNT_PLACEHOLDER = "Official Account"


def article_preview_account_name() -> str:
    """The name followers see above an article: the first Official Account's, until pushes pick theirs."""
    name = OfficialAccount.objects.order_by("pk").values_list("name", flat=True).first()
    return name or PREVIEW_ACCOUNT_PLACEHOLDER
