"""The secrets' encryption keys: derived once for every encrypted field, under the settings of the moment."""

import pytest

from config.encrypted_fields import EncryptedCharField, EncryptedTextField, encryption_keys_derive
from wechat.models import Merchant, MiniProgram

pytestmark = pytest.mark.django_db


def _encrypted_fields():
    return [
        field
        for model in (Merchant, MiniProgram)
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedCharField | EncryptedTextField)
    ]


def test_every_encrypted_field_uses_the_keys_derived_once():
    fields = _encrypted_fields()

    assert len(fields) > 3
    assert all(field.keys is encryption_keys_derive() for field in fields)


def test_a_rotated_secret_key_still_decrypts_with_the_old_one_as_a_fallback(settings):
    old_keys = encryption_keys_derive()
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-new-secret-key-" + "x" * 40

    rotated = encryption_keys_derive()

    assert rotated != old_keys and rotated[1:] == old_keys
