"""The encrypted model fields our secrets use: django-fernet-encrypted-fields', with a safe clean(), keys derived once.

The library's clean() marks the field (one instance shared by every request and thread) as "already
decrypted" while it validates, and leaves the mark behind when a validator refuses the value: from
then on every read of that field in the process returns the ciphertext. One refused callback token in
the admin was enough to make every later callback fail its signature. A value being cleaned is plain
text, so it is validated as the plain field would validate it, with no shared state.

The library derives its Fernet keys from SECRET_KEY (and its fallbacks) and the salt with PBKDF2
(100,000 rounds) once per field instance, on the field's first read in a process, and each thread
that reads it first at the same moment derives them again. Every field's keys are the same, so they
are derived once per process and settings, under a lock; `encryption_keys_derive()` derives them
ahead (config/wsgi.py, in gunicorn's master, whose workers fork with them), so no request pays for it.
"""

import threading

from django.conf import settings
from django.db import models
from encrypted_fields import fields as library

_derived: dict[tuple, list[bytes]] = {}
_derived_lock = threading.Lock()


def encryption_keys_derive() -> list[bytes]:
    """The keys every encrypted field uses under the current settings, derived the first time they are asked for."""
    salts = settings.SALT_KEY if isinstance(settings.SALT_KEY, list) else [settings.SALT_KEY]
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    key = (tuple(secrets), tuple(salts))
    keys = _derived.get(key)
    if keys is None:
        with _derived_lock:
            keys = _derived.get(key)
            if keys is None:
                # The library's own derivation (its parameters), run for one field on behalf of all.
                keys = _derived[key] = library.EncryptedFieldMixin.keys.func(None)
    return keys


class _FieldOfOurs:
    def clean(self, value, model_instance):
        return models.Field.clean(self, value, model_instance)

    @property
    def keys(self) -> list[bytes]:
        return encryption_keys_derive()


class EncryptedCharField(_FieldOfOurs, library.EncryptedCharField):
    pass


class EncryptedTextField(_FieldOfOurs, library.EncryptedTextField):
    pass
