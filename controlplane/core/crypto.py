"""Secrets and bank details encrypted at rest with Fernet keys that can rotate.

Keys come from ``FIELD_ENCRYPTION_KEYS`` (comma-separated, newest first). The newest key
encrypts; every listed key decrypts. :func:`rotate_encrypted_fields` re-encrypts every stored
value (history rows included) under the newest key, after which old keys can be removed.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models.functions import Cast

PREFIX = "fernet:"


@lru_cache(maxsize=8)
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    return MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])


def fernet() -> MultiFernet:
    """The MultiFernet for the keys currently configured."""
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plain: str) -> str:
    return PREFIX + fernet().encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    """The clear text of a stored value; raises ``InvalidToken`` when no key fits."""
    if not stored.startswith(PREFIX):
        raise InvalidToken("value is not an encrypted token")
    return fernet().decrypt(stored[len(PREFIX):].encode()).decode()


def mask(value: str | None) -> str:
    """What screens show instead of a secret: its length class, never its characters."""
    if not value:
        return ""
    return "•••• (set)"


class EncryptedTextField(models.TextField):
    """A text column holding a Fernet token; Python sees the clear text.

    Lookups other than ``isnull`` make no sense on ciphertext and are not supported.
    """

    description = "Text encrypted at rest (Fernet, rotating keys)"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))


def encrypted_fields() -> list[tuple[type[models.Model], str]]:
    """Every (model, field name) stored encrypted, historical models included."""
    found = []
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                found.append((model, field.attname))
    return found


def rotate_encrypted_fields(batch_size: int = 500) -> int:
    """Re-encrypt every stored encrypted value under the newest key; returns rows rewritten.

    Each model is rotated in its own transaction; rows whose token is already under the
    newest key are rewritten too (Fernet tokens carry no key id), which is harmless.
    """
    f = fernet()
    rewritten = 0
    for model, attname in encrypted_fields():
        raw = Cast(attname, output_field=models.TextField())
        with transaction.atomic():
            rows = (
                model._base_manager.exclude(**{f"{attname}__isnull": True})
                .exclude(**{attname: ""})
                .annotate(_raw=raw)
                .values_list("pk", "_raw")
            )
            for pk, token in rows.iterator(chunk_size=batch_size):
                if not token or not token.startswith(PREFIX):
                    continue
                new = PREFIX + f.rotate(token[len(PREFIX):].encode()).decode()
                # .update() bypasses get_prep_value: write the token as it is.
                model._base_manager.filter(pk=pk).update(**{attname: models.Value(new, output_field=models.TextField())})
                rewritten += 1
    return rewritten
