from datetime import timedelta

import pytest
from django.utils import timezone

from customers.models import Customer, CustomerToken
from customers.services import customer_login, customer_tokens_purge_expired

pytestmark = pytest.mark.django_db


def test_a_unionid_given_later_is_kept(sandbox):
    minted = sandbox.mint_login_code()
    customer_login(code=minted["code"])
    assert Customer.objects.get().unionid == ""

    customer_login(code=sandbox.mint_login_code(openid=minted["openid"], unionid="o6_union")["code"])

    assert Customer.objects.get().unionid == "o6_union"


def test_only_the_token_digest_is_stored(sandbox):
    login = customer_login(code=sandbox.mint_login_code()["code"])

    stored = CustomerToken.objects.get()
    assert stored.key_digest == CustomerToken.digest(login.token)
    assert login.token not in stored.key_digest


def test_purge_deletes_only_expired_tokens(sandbox):
    expired = customer_login(code=sandbox.mint_login_code()["code"])
    customer_login(code=sandbox.mint_login_code()["code"])
    CustomerToken.objects.filter(key_digest=CustomerToken.digest(expired.token)).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    assert customer_tokens_purge_expired() == 1
    assert CustomerToken.objects.count() == 1
