"""Standard Webhooks signatures: ``v1,`` + base64(HMAC-SHA256(secret, "{id}.{timestamp}.{body}")).

The secret is ``whsec_`` + base64 of the key bytes. ``webhook-signature`` holds one or more
space-separated signatures (several during a secret rotation); a message verifies when any of
them matches any of the receiver's secrets. Comparison is constant-time. No Django here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60


class WebhookVerificationError(Exception):
    """The message is not authentic or not fresh. ``code`` is stable for API errors."""

    def __init__(self, message: str, code: str):
        super().__init__(message)
        self.code = code


def _key(secret: str | bytes) -> bytes:
    if isinstance(secret, bytes):
        return secret
    if secret.startswith(SECRET_PREFIX):
        secret = secret[len(SECRET_PREFIX):]
    try:
        return base64.b64decode(secret, validate=True)
    except ValueError as exc:
        raise ValueError("a webhook secret is whsec_ followed by base64") from exc


def sign(secret: str | bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one message."""
    to_sign = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(_key(secret), to_sign, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secrets: Iterable[str | bytes], msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three headers of a signed delivery, one signature per secret (rotation)."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": " ".join(sign(s, msg_id, ts, body) for s in secrets),
    }


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return ""


def verify(
    secrets: Iterable[str | bytes],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> str:
    """Check a received message against the receiver's secrets; returns its ``webhook-id``.

    Raises :class:`WebhookVerificationError` (codes ``missing_headers``, ``invalid_timestamp``,
    ``stale_timestamp``, ``bad_signature``). Replay of an id is the caller's to refuse: it
    needs storage.
    """
    msg_id = _header(headers, "webhook-id")
    ts_raw = _header(headers, "webhook-timestamp")
    sig_raw = _header(headers, "webhook-signature")
    if not (msg_id and ts_raw and sig_raw):
        raise WebhookVerificationError("webhook-id, webhook-timestamp and webhook-signature are required.", "missing_headers")
    try:
        ts = int(ts_raw)
    except ValueError as exc:
        raise WebhookVerificationError("webhook-timestamp is not an integer.", "invalid_timestamp") from exc
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance window.", "stale_timestamp")
    expected = [sign(s, msg_id, ts, body).encode() for s in secrets]
    matched = False
    for candidate in sig_raw.split():
        version, _, value = candidate.partition(",")
        if version != "v1" or not value:
            continue
        for exp in expected:
            # Compare every pair: the time taken does not depend on which secret matched.
            matched |= hmac.compare_digest(exp, candidate.encode())
    if not matched:
        raise WebhookVerificationError("No signature matches.", "bad_signature")
    return msg_id
