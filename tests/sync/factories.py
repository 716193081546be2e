"""Factories for outbox rows."""

from __future__ import annotations

import factory

from controlplane.sync.models import OutboxJob


class OutboxJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OutboxJob

    operation = "test.record"
    payload = factory.LazyFunction(dict)
    payload_sha256 = "0" * 64
    idempotency_key = factory.Sequence(lambda n: f"test-key-{n}")
    correlation_id = factory.Sequence(lambda n: f"cid{n}")
