"""The encrypted model fields our secrets use: django-fernet-encrypted-fields', with a safe clean().

The library's clean() marks the field (one instance shared by every request and thread) as "already
decrypted" while it validates, and leaves the mark behind when a validator refuses the value: from
then on every read of that field in the process returns the ciphertext. One refused callback token in
the admin was enough to make every later callback fail its signature. A value being cleaned is plain
text, so it is validated as the plain field would validate it, with no shared state.
"""

from django.db import models
from encrypted_fields import fields as library


class _CleanWithoutSharedState:
    def clean(self, value, model_instance):
        return models.Field.clean(self, value, model_instance)


class EncryptedCharField(_CleanWithoutSharedState, library.EncryptedCharField):
    pass


class EncryptedTextField(_CleanWithoutSharedState, library.EncryptedTextField):
    pass
