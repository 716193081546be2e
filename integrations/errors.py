"""The two error families every connector raises (Odoo, webhooks, bank files).

A connector decides, at its client, whether a failure is worth retrying:

- ``RetryableError``: transient (network, timeout, 429/503, serialization
  conflict). Retry later, with back-off; ``retry_after`` is a hint in seconds.
- ``UnknownOutcomeError``: a retryable error where the request may have been
  applied (timeout after sending, connection dropped mid-response). Retry only
  through an idempotent path: look the result up before acting again.
- ``PermanentError``: the remote system refused (validation, access rights,
  missing record, bad request). Retrying will not help; a person must act.

``IntegrationError.retryable`` lets a worker decide without ``isinstance``
chains. Nothing here knows about Django or about any particular system.
"""

from __future__ import annotations


class IntegrationError(Exception):
    """Base of every error a connector raises.

    ``code`` is a short machine-readable kind (e.g. ``"UserError"``,
    ``"http_503"``, ``"timeout"``); ``details`` carries extra text such as a
    remote traceback tail, for logs and exception records, never for control
    flow.
    """

    retryable: bool = False

    def __init__(self, message: str, *, code: str = "", details: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}" if self.code else self.message


class RetryableError(IntegrationError):
    """A transient failure: the same call may succeed later."""

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        details: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.retry_after = retry_after


class UnknownOutcomeError(RetryableError):
    """Retryable, but the request may have been applied remotely.

    The caller must check the remote state (search by its own reference)
    before repeating a write.
    """


class PermanentError(IntegrationError):
    """The remote system refused the request; retrying will not help."""

    retryable = False
