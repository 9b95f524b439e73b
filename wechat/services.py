from django.db import transaction

from wechat.models import Merchant, MiniProgram, OfficialAccount
from wechat.tokens import access_token_forget


def official_account_save(*, account: OfficialAccount, credentials_changed: bool) -> OfficialAccount:
    """Save an account; new credentials make every process fetch a new access token with them."""
    previous_appid = OfficialAccount.objects.filter(pk=account.pk).values_list("appid", flat=True).first()
    account.save()
    if credentials_changed:
        for appid in {account.appid, previous_appid} - {None}:
            transaction.on_commit(lambda appid=appid: access_token_forget(appid=appid))
    return account


def merchant_save(*, merchant: Merchant) -> Merchant:
    """Save a merchant; every process reads its credentials from the row on the next payment call."""
    merchant.save()
    return merchant


def mini_program_save(*, mini_program: MiniProgram, credentials_changed: bool) -> MiniProgram:
    """Save a Mini Program; new credentials make every process fetch a new access token with them."""
    previous_appid = MiniProgram.objects.filter(pk=mini_program.pk).values_list("appid", flat=True).first()
    mini_program.save()
    if credentials_changed:
        for appid in {mini_program.appid, previous_appid} - {None}:
            transaction.on_commit(lambda appid=appid: access_token_forget(appid=appid))
    return mini_program
