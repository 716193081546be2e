"""Domain errors raised by services, rendered as RFC 9457 problem details by the API and as
messages by the admin. Each carries a stable ``code`` and optional field-level entries."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FieldProblem:
    """One field-level problem: ``field`` is a dotted path (``lines.0.amount``)."""

    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "detail": self.message}


@dataclass
class DomainError(Exception):
    """A refused request. ``status`` is the HTTP status the API answers with."""

    message: str
    code: str = "invalid"
    status: int = 400
    errors: list[FieldProblem] = field(default_factory=list)

    def __str__(self) -> str:
        if self.errors:
            details = "; ".join(f"{e.field}: {e.message}" for e in self.errors)
            return f"{self.message} ({details})"
        return self.message


class ValidationFailed(DomainError):
    """Input or policy check failed; nothing was written."""

    def __init__(self, message: str = "The request failed validation.", errors=None, code: str = "validation_failed"):
        super().__init__(message=message, code=code, status=422, errors=list(errors or []))


class NotAllowed(DomainError):
    """The actor may not do this (segregation of duties, state, ownership)."""

    def __init__(self, message: str, code: str = "not_allowed", errors=None):
        super().__init__(message=message, code=code, status=403, errors=list(errors or []))


class Conflict(DomainError):
    """The object changed or is in a state that makes the action impossible now."""

    def __init__(self, message: str, code: str = "conflict", errors=None):
        super().__init__(message=message, code=code, status=409, errors=list(errors or []))


class NotFound(DomainError):
    def __init__(self, message: str = "Not found.", code: str = "not_found"):
        super().__init__(message=message, code=code, status=404)
