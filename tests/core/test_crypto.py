"""Credentials are encrypted at rest, and key rotation re-encrypts every row."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection

from controlplane.connections.models import ExternalSystem
from controlplane.core.actors import Actor, acting
from controlplane.core.crypto import PREFIX, decrypt
from tests.factories import ExternalSystemFactory

pytestmark = pytest.mark.django_db

SECRET = {"login": "integration", "password": "correct horse battery staple"}


def raw_column(table: str, pk: int, column: str = "credentials") -> str:
    with connection.cursor() as cur:
        cur.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cur.fetchone()[0]


def test_history_never_holds_credentials():
    fields = {f.name for f in ExternalSystem.history.model._meta.fields}
    assert "credentials" not in fields


def test_credentials_are_not_stored_in_clear():
    system = ExternalSystemFactory()
    system.set_credentials(SECRET)
    with acting(Actor(reason="set credentials")):
        system.save()
    raw = raw_column("connections_externalsystem", system.pk)
    assert raw.startswith(PREFIX)
    assert "correct horse" not in raw and "integration" not in raw
    assert ExternalSystem.objects.get(pk=system.pk).credential_values() == SECRET


def test_rotation_reencrypts_every_row(settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    systems = []
    for _ in range(3):
        s = ExternalSystemFactory()
        s.set_credentials(SECRET)
        s.save()
        systems.append(s)
    before = {s.pk: raw_column("connections_externalsystem", s.pk) for s in systems}
    # when a new key is put first and rotation runs
    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_keys")
    # then every row decrypts with the new key alone
    settings.FIELD_ENCRYPTION_KEYS = [new_key]
    for s in systems:
        raw = raw_column("connections_externalsystem", s.pk)
        assert raw != before[s.pk]
        assert decrypt(raw) and ExternalSystem.objects.get(pk=s.pk).credential_values() == SECRET
    # and the old key alone no longer opens them
    settings.FIELD_ENCRYPTION_KEYS = [old_key]
    with pytest.raises(InvalidToken):
        decrypt(raw_column("connections_externalsystem", systems[0].pk))
