"""Idempotency-Key handling (Stripe / IETF draft semantics).

Same key with a different request → 422; same key while the first is still running → 409.
A 5xx, 409 or 429 answer releases the key (the caller may retry); every other answer
(status, the headers that matter, body bytes) is replayed byte for byte until the record
expires. Two ways to get there:

- **Claim, work, store** (:func:`idempotency_claim` / :func:`idempotency_complete`): the key
  is claimed first in its own short transaction (the unique (caller, key) constraint decides
  races), the business work runs in its own transactions, then the response is stored. If the
  process dies between the business commit and the store, the claim stays "in progress"
  until its lease runs out; a retry then re-runs the work, which the source reference's
  uniqueness keeps from duplicating an expense.
- **All in the business transaction** (:func:`idempotency_begin` / :func:`idempotency_store`,
  used by views that run their whole request in one transaction): a transaction-scoped lock
  on (caller, key) — ``pg_try_advisory_xact_lock`` on PostgreSQL; SQLite's write
  transactions are serial already — is taken first (not free → 409), then the record is read
  (a replay, a 422, or nothing); the work runs, and the completed record is inserted in the
  same transaction. Work and stored answer commit or vanish together, so there is no
  "in progress" row and no lease, and it costs one commit instead of three. The lock is
  released at commit, after the record is visible, so a later request with the key replays.

Both ways take the same lock, so they exclude each other on a key.
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


@dataclass
class Pending:
    """A key held by the running transaction (:func:`idempotency_begin`); ``taken_over`` is
    the pk of a dead claim-work-store attempt's row we replace, or of an expired record."""

    caller: str
    key: str
    fingerprint: str
    taken_over: int | None = None


def _lock_id(caller: str, key: str) -> int:
    digest = hashlib.sha256(f"idempotency\n{caller}\n{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _try_lock(caller: str, key: str) -> bool:
    """Take the transaction-scoped lock on (caller, key); False when another transaction holds it."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return True  # SQLite runs one write transaction at a time (IMMEDIATE): nothing to race
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_lock_id(caller, key)])
        return bool(cursor.fetchone()[0])


def _in_progress() -> Conflict:
    return Conflict("A request with this Idempotency-Key is still being processed.", code="idempotency_in_progress")


def _reused() -> ValidationFailed:
    return ValidationFailed(
        "This Idempotency-Key was used for a different request.", code="idempotency_key_reused",
        errors=[FieldProblem(HEADER, "reused", "Use a new key for a different request.")],
    )


def idempotency_begin(*, caller: str, key: str, fingerprint: str) -> Pending | HttpResponse:
    """Inside the transaction that will do the work: hold ``key`` for ``caller`` until it ends.

    Returns the stored response to replay, or a :class:`Pending` to pass to
    :func:`idempotency_store` once the response is rendered. Raises 409 (another request
    holds the key) or 422 (the key was used for another request)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("idempotency_begin needs the caller's transaction")
    if not _try_lock(caller, key):
        raise _in_progress()
    # (caller, key) is unique: a slice, not .first(), which would add an ORDER BY
    record = next(iter(IdempotencyRecord.objects.filter(caller=caller, key=key)[:1]), None)
    if record is None:
        return Pending(caller, key, fingerprint)
    now = timezone.now()
    if record.expires_at <= now:
        return Pending(caller, key, fingerprint, taken_over=record.pk)
    if record.fingerprint != fingerprint:
        raise _reused()
    if record.state == IdempotencyRecord.State.COMPLETED:
        return _replay(record)
    if record.locked_until > now:
        raise _in_progress()
    return Pending(caller, key, fingerprint, taken_over=record.pk)  # that attempt died mid-way


def idempotency_store(pending: Pending, response) -> None:
    """In the same transaction: keep the rendered ``response`` for replay (or, on a retryable
    answer, leave the key free)."""
    if response.status_code >= 500 or response.status_code in _RELEASE_STATUSES:
        if pending.taken_over is not None:
            IdempotencyRecord.objects.filter(pk=pending.taken_over).delete()
        return
    now = timezone.now()
    values = dict(
        fingerprint=pending.fingerprint, state=IdempotencyRecord.State.COMPLETED, locked_until=now,
        expires_at=now + RETENTION, response_status=response.status_code, completed_at=now,
        response_headers={name: response[name] for name in _KEPT_HEADERS if response.has_header(name)},
        response_body=bytes(response.content),
    )
    if pending.taken_over is not None:
        IdempotencyRecord.objects.filter(pk=pending.taken_over).update(**values)
    else:
        IdempotencyRecord.objects.create(caller=pending.caller, key=pending.key, **values)


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
                if not _try_lock(caller, key):  # held by an all-in-one-transaction request
                    raise _in_progress()
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
            raise _reused()
        if record.state == IdempotencyRecord.State.COMPLETED:
            return Claim(replay=_replay(record))
        if record.locked_until > now:
            raise _in_progress()
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
