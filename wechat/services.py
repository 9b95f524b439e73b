from django.db import transaction

from wechat.models import OfficialAccount
from wechat.tokens import access_token_forget


def official_account_save(*, account: OfficialAccount, credentials_changed: bool) -> OfficialAccount:
    """Save an account; new credentials make every process fetch a new access token with them."""
    previous_appid = OfficialAccount.objects.filter(pk=account.pk).values_list("appid", flat=True).first()
    account.save()
    if credentials_changed:
        for appid in {account.appid, previous_appid} - {None}:
            transaction.on_commit(lambda appid=appid: access_token_forget(appid=appid))
    return account
