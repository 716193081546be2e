"""Idempotency-Key handling (Stripe / IETF draft semantics).

A request's key is claimed first in its own short transaction: the unique (caller, key)
constraint decides races. The business work then runs in its own transactions, and the
response (status, the headers that matter, body bytes) is stored for replay. Same key with a
different request → 422; same key while the first is still running → 409. A 5xx, 409 or 429
answer releases the key (the caller may retry); every other answer is replayed byte for byte
until the record expires.

If the process dies between the business commit and storing the response, the claim stays
"in progress" until its lease runs out; a retry then re-runs the work, which the source
reference's uniqueness keeps from duplicating an expense.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.utils import timezone

from controlplane.api.models import IdempotencyRecord
from controlplane.core.errors import Conflict, DomainError, FieldProblem, ValidationFailed

HEADER = "Idempotency-Key"
RETENTION = timedelta(hours=48)
LEASE = timedelta(seconds=60)
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")
_KEPT_HEADERS = ("Content-Type", "Location")
_RELEASE_STATUSES = (409, 429)


class IdempotencyKeyMissing(DomainError):
    def __init__(self):
        super().__init__(
            message=f"This operation needs an {HEADER} header (1–255 printable ASCII characters).",
            code="idempotency_key_missing", status=400,
            errors=[FieldProblem(HEADER, "required", "Send a unique key per logical operation.")],
        )


def valid_key(key: str | None) -> str:
    if not key or not _VALID_KEY.match(key):
        raise IdempotencyKeyMissing()
    return key


def fingerprint(method: str, path: str, content_type: str, body: bytes) -> str:
    """SHA-256 over method, path and body; a multipart body's random boundary is neutralised."""
    match = re.search(r"boundary=\"?([^\";]+)", content_type or "")
    if match:
        body = body.replace(match.group(1).encode(), b"BOUNDARY")
    digest = hashlib.sha256()
    digest.update(f"{method.upper()}\n{path}\n".encode())
    digest.update(body)
    return digest.hexdigest()


@dataclass
class Claim:
    """Either ``record`` (we own the key: run the work) or ``replay`` (the stored response)."""

    record: IdempotencyRecord | None = None
    replay: HttpResponse | None = None


def _replay(record: IdempotencyRecord) -> HttpResponse:
    headers = dict(record.response_headers)
    response = HttpResponse(bytes(record.response_body), status=record.response_status,
                            content_type=headers.pop("Content-Type", "application/json"))
    for name, value in headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def idempotency_claim(*, caller: str, key: str, fingerprint: str) -> Claim:
    """Claim ``key`` for ``caller`` or explain why not (raises 422 / 409 problems)."""
    for _ in range(3):
        now = timezone.now()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    caller=caller, key=key, fingerprint=fingerprint,
                    locked_until=now + LEASE, expires_at=now + RETENTION,
                )
            return Claim(record=record)
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(caller=caller, key=key).first()
        if record is None:
            continue  # released between our insert and our read: try again
        if record.expires_at <= now:
            IdempotencyRecord.objects.filter(pk=record.pk, expires_at__lte=now).delete()
            continue
        if record.fingerprint != fingerprint:
            raise ValidationFailed(
                "This Idempotency-Key was used for a different request.", code="idempotency_key_reused",
                errors=[FieldProblem(HEADER, "reused", "Use a new key for a different request.")],
            )
        if record.state == IdempotencyRecord.State.COMPLETED:
            return Claim(replay=_replay(record))
        if record.locked_until > now:
            raise Conflict("A request with this Idempotency-Key is still being processed.", code="idempotency_in_progress")
        # The first attempt died mid-way: take its claim over, once.
        taken = IdempotencyRecord.objects.filter(
            pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS, locked_until=record.locked_until
        ).update(locked_until=now + LEASE)
        if taken == 1:
            return Claim(record=record)
        raise Conflict("A request with this Idempotency-Key is still being processed.", code="idempotency_in_progress")
    raise Conflict("The Idempotency-Key is contended; retry.", code="idempotency_in_progress")


def idempotency_complete(record: IdempotencyRecord, response) -> None:
    """Store the (rendered) response for replay, or release the key on a retryable answer."""
    if response.status_code >= 500 or response.status_code in _RELEASE_STATUSES:
        idempotency_release(record)
        return
    headers = {name: response[name] for name in _KEPT_HEADERS if response.has_header(name)}
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        state=IdempotencyRecord.State.COMPLETED, response_status=response.status_code,
        response_headers=headers, response_body=bytes(response.content), completed_at=timezone.now(),
    )


def idempotency_release(record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, state=IdempotencyRecord.State.IN_PROGRESS).delete()


def idempotency_purge(now=None) -> int:
    """Delete expired records; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
