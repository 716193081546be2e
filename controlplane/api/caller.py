"""Who is calling the API and what it may touch.

A token caller is one external system with the token's scopes and legal entities. A staff
session caller gets scopes from its roles and every legal entity. Every queryset of the API
is narrowed through :class:`Caller`; objects outside it answer 404.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from controlplane.api.models import ApiToken, Scope
from controlplane.core import roles
from controlplane.core.actors import Actor

_READ = (Scope.EXPENSES_READ, Scope.MASTERDATA_READ, Scope.EXCEPTIONS_READ)
ROLE_SCOPES: dict[str, tuple[str, ...]] = {
    roles.APPROVER: (Scope.EXPENSES_READ, Scope.APPROVALS_WRITE, Scope.MASTERDATA_READ),
    roles.FINANCE_REVIEWER: (*_READ, Scope.FINANCE_WRITE, Scope.MASTERDATA_WRITE, Scope.EXCEPTIONS_WRITE),
    roles.PAYMENT_OFFICER: (*_READ, Scope.PAYMENTS_WRITE, Scope.EXCEPTIONS_WRITE),
    roles.INTEGRATION_ADMIN: (*_READ, Scope.EVENTS_MANAGE, Scope.SYNC_REPLAY, Scope.EXCEPTIONS_WRITE),
    roles.AUDITOR: _READ,
}


class SystemPrincipal:
    """``request.user`` for token callers: authenticated, not a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: ApiToken):
        self.token = token

    def __str__(self) -> str:
        return f"system:{self.token.system.code}"

    def get_username(self) -> str:
        return ""


@dataclass
class Caller:
    system: object | None = None
    user: object | None = None
    token: ApiToken | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    all_entities: bool = False
    _entity_ids: frozenset[int] | None = None

    @property
    def key(self) -> str:
        """Idempotency keys are scoped by this (a system's keys survive its token rotation)."""
        return f"system:{self.system.pk}" if self.system is not None else f"user:{self.user.pk}"

    @property
    def actor(self) -> Actor:
        return Actor(user=self.user, system=self.system, reason="api")

    @property
    def is_platform(self) -> bool:
        """Expense platforms only see the expenses they sent."""
        return self.system is not None and self.system.kind == "expense_platform"

    @cached_property
    def entity_ids(self) -> frozenset[int]:
        if self._entity_ids is not None:
            return self._entity_ids
        if self.token is not None:
            loaded = getattr(self.token, "legal_entity_ids", None)  # set by api_token_check
            if loaded is not None:
                return loaded
            return frozenset(self.token.legal_entities.values_list("pk", flat=True))
        return frozenset()

    def has(self, scope: str) -> bool:
        return scope in self.scopes

    def entity_filter(self, queryset, path: str = "legal_entity"):
        """``queryset`` narrowed to the caller's entities (``path`` leads to a LegalEntity)."""
        if self.all_entities:
            return queryset
        return queryset.filter(**{f"{path}__in": self.entity_ids})

    def may_touch_entity(self, entity_id: int | None) -> bool:
        return self.all_entities or (entity_id is not None and entity_id in self.entity_ids)


def caller_for(request) -> Caller | None:
    """The :class:`Caller` of an authenticated DRF request (cached on it), else None."""
    cached = getattr(request, "_api_caller", None)
    if cached is not None:
        return cached
    user = request.user
    if isinstance(user, SystemPrincipal):
        token = user.token
        caller = Caller(system=token.system, token=token, scopes=frozenset(token.scopes))
    elif user is not None and user.is_authenticated and user.is_active and user.is_staff:
        if user.is_superuser:
            scopes = frozenset(Scope.values)
        else:
            names = set(user.groups.values_list("name", flat=True))
            scopes = frozenset(s for role, granted in ROLE_SCOPES.items() if role in names for s in granted)
        caller = Caller(user=user, scopes=scopes, all_entities=True)
    else:
        return None
    request._api_caller = caller
    return caller
