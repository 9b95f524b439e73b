"""Fixtures of the wechat/ tests: an Official Account registered in the sandbox, and its client."""

import secrets

import pytest

from wechat.clients import client_for_official_account
from wechat.models import OfficialAccount


@pytest.fixture
def registered_account(sandbox) -> OfficialAccount:
    """A service account known to the sandbox; unsaved, as the calls need only its credentials."""
    account = OfficialAccount(
        appid="wx" + secrets.token_hex(8), app_secret="calls-secret", account_type=OfficialAccount.AccountType.SERVICE
    )
    sandbox.register_app(account.appid, account.app_secret, "official_account", account_type=account.account_type)
    return account


@pytest.fixture
def account_client(registered_account):
    return client_for_official_account(registered_account)
