"""Issuing, revoking and checking API tokens.

A token reads ``cpt_<prefix>_<secret>``: the 10-hex prefix finds the row, the SHA-256 of the
whole token must equal the stored hash (compared in constant time). Tokens carry 256 bits of
randomness, so a plain SHA-256 is enough (no slow hash needed, unlike passwords).

Checked tokens are kept in a small in-process cache keyed by that hash, for
``API_TOKEN_CACHE_SECONDS`` (default 5; 0 turns it off): a request then costs no query to
authenticate. Expiry is re-checked on every hit. Revoking a token, saving a token or a system
(the admin, :func:`api_token_revoke`) or changing a token's entities empties this process's
cache at once; other worker processes notice within the cache lifetime. A row changed with a
bare ``QuerySet.update()`` (no signal) is also noticed within that lifetime.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone

from controlplane.api.models import ApiToken, Scope
from controlplane.core.actors import Actor, acting
from controlplane.core.errors import FieldProblem, NotFound, ValidationFailed

TOKEN_PREFIX = "cpt_"
_PREFIX_LEN = 10
# last_used_at is written at most this often per token: a write per request would double the load.
LAST_USED_RESOLUTION = timedelta(seconds=60)


_cache: dict[str, tuple[float, ApiToken]] = {}
_cache_lock = threading.Lock()
_CACHE_MAX = 1024


def _cache_seconds() -> float:
    return float(getattr(settings, "API_TOKEN_CACHE_SECONDS", 5))


def _clear() -> None:
    with _cache_lock:
        _cache.clear()


def token_cache_clear(*args, **kwargs) -> None:
    """Forget every cached token of this process (connected to token / system changes); again
    after the running transaction commits, since a request may re-cache the old row meanwhile."""
    _clear()
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(_clear)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _split(token: str) -> str | None:
    """The lookup prefix of a well-formed token, else None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    rest = token[len(TOKEN_PREFIX):]
    if len(rest) < _PREFIX_LEN + 2 or rest[_PREFIX_LEN] != "_":
        return None
    return rest[:_PREFIX_LEN]


@transaction.atomic
def api_token_issue(
    *, actor: Actor, system, scopes: list[str], legal_entities, expires_at: datetime | None = None, name: str = ""
) -> tuple[ApiToken, str]:
    """A new token for ``system``; returns the row and the clear token (shown once, never stored).

    Every legal entity must be one the system serves.
    """
    unknown = sorted(set(scopes) - set(Scope.values))
    problems = []
    if unknown:
        problems.append(FieldProblem("scopes", "unknown_scope", f"Unknown scopes: {', '.join(unknown)}."))
    entities = list(legal_entities)
    served = set(system.legal_entities.values_list("pk", flat=True))
    outside = sorted(e.code for e in entities if e.pk not in served)
    if outside:
        problems.append(FieldProblem("legal_entities", "not_served", f"{system.code} does not serve {', '.join(outside)}."))
    if expires_at is not None and expires_at <= timezone.now():
        problems.append(FieldProblem("expires_at", "in_past", "The expiry must be in the future."))
    if problems:
        raise ValidationFailed(errors=problems)
    prefix = secrets.token_hex(_PREFIX_LEN // 2)
    clear = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    with acting(actor, f"API token issued for {system.code}"):
        token = ApiToken.objects.create(
            system=system, name=name, prefix=prefix, token_hash=_hash(clear), scopes=sorted(set(scopes)),
            expires_at=expires_at, created_by=actor.user if getattr(actor.user, "pk", None) else None,
        )
        token.legal_entities.set(entities)
    return token, clear


@transaction.atomic
def api_token_revoke(*, actor: Actor, token_id: int, reason: str) -> ApiToken:
    """Revoke a token at once; requests with it are refused from now on."""
    try:
        token = ApiToken.objects.select_for_update().get(pk=token_id)
    except ApiToken.DoesNotExist as exc:
        raise NotFound("No such token.") from exc
    if token.revoked_at is None:
        with acting(actor, f"revoked: {reason}"):
            token.revoked_at = timezone.now()
            token.revoked_reason = reason[:255]
            token.save(update_fields=["revoked_at", "revoked_reason", "updated_at"])
    token_cache_clear()
    return token


def api_token_check(clear: str) -> ApiToken | None:
    """The usable token matching ``clear`` (with its system and ``legal_entity_ids`` loaded),
    else None. Served from the process cache when fresh (see the module docstring).

    Touches ``last_used_at`` (at most once per :data:`LAST_USED_RESOLUTION`).
    """
    prefix = _split(clear)
    if prefix is None:
        return None
    digest = _hash(clear)
    now = timezone.now()
    hit = _cache.get(digest)
    if hit is not None and hit[0] > time.monotonic():
        token = hit[1]
        return token if token.is_usable(now) else None
    token = ApiToken.objects.select_related("system").filter(prefix=prefix).first()
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if not token.is_usable(now) or not token.system.enabled:
        return None
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        # A bare update: usage is not an audited change.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    token.legal_entity_ids = frozenset(token.legal_entities.values_list("pk", flat=True))
    seconds = _cache_seconds()
    if seconds > 0:
        with _cache_lock:
            if len(_cache) >= _CACHE_MAX:
                _cache.clear()
            _cache[digest] = (time.monotonic() + seconds, token)
    return token


def _connect_invalidation() -> None:
    from controlplane.connections.models import ExternalSystem

    for model in (ApiToken, ExternalSystem):
        post_save.connect(token_cache_clear, sender=model, dispatch_uid=f"token-cache-save-{model.__name__}")
        post_delete.connect(token_cache_clear, sender=model, dispatch_uid=f"token-cache-delete-{model.__name__}")
    m2m_changed.connect(token_cache_clear, sender=ApiToken.legal_entities.through, dispatch_uid="token-cache-m2m")


_connect_invalidation()
