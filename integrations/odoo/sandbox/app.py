"""The sandbox application: one database, its users, and transactional execution.

``Sandbox`` is transport-agnostic: XML-RPC, JSON-RPC and JSON-2 all end in
``execute``, which runs one method call as one transaction (commit on success,
including methods returning None; full rollback on any error).
"""

from __future__ import annotations

import logging
from typing import Any

from .errors import AccessDenied, missing
from .orm import Env
from .registry import build_registry, call
from .seed import DEFAULT_API_KEY, apply_profile_ids, seed

_logger = logging.getLogger("odoo.sandbox")

VERSIONS = {
    "17": {"server_version": "17.0", "server_version_info": [17, 0, 0, "final", 0, ""],
           "server_serie": "17.0", "protocol_version": 1},
    "19": {"server_version": "19.0", "server_version_info": [19, 0, 0, "final", 0, ""],
           "server_serie": "19.0", "protocol_version": 1},
}


class OperationalError(Exception):
    """What Odoo's registry raises for a database that does not exist."""


OperationalError.__module__ = "psycopg2"


class Sandbox:
    """The emulated Odoo server state (thread-safe: calls are serialised on the store lock)."""

    def __init__(self, db_path: str, profile: str = "17", db: str = "sandbox",
                 api_key: str = DEFAULT_API_KEY):
        from .store import Store

        if profile not in VERSIONS:
            raise ValueError(f"unknown profile {profile!r} (use 17 or 19)")
        self.profile = profile
        self.db = db
        self.api_key = api_key
        apply_profile_ids(profile)
        self.registry = build_registry(profile)
        indexed = {name: mdef.indexed for name, mdef in self.registry.models.items()}
        self.store = Store(db_path, indexed)
        stored = self.store.get_meta("profile")
        if stored and stored != profile:
            raise SystemExit(f"{db_path} holds a {stored}.0 database; start with --profile {stored}")
        if self.store.is_empty():
            with self.store.lock:
                self.store.begin()
                seed(Env(profile, self.store, self.registry, uid=1), api_key)
                self.store.commit()
        else:
            self._sync_api_key()

    def _sync_api_key(self) -> None:
        """Let ``--api-key`` change the admin key of an existing file."""
        admin = self.store.get("res.users", 2)
        if admin and self.api_key not in admin.get("api_keys", []):
            with self.store.lock:
                self.store.begin()
                self.store.put("res.users", 2, {**admin, "api_keys": [self.api_key]})
                self.store.commit()

    def version(self) -> dict:
        return dict(VERSIONS[self.profile])

    # -- authentication --------------------------------------------------------------------
    def check_db(self, db: Any) -> None:
        if db != self.db:
            raise OperationalError(f'connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
                                   f'database "{db}" does not exist\n')

    def authenticate(self, db: Any, login: Any, password: Any) -> int | bool:
        """The uid for a login and password (or API key), False when they do not match."""
        self.check_db(db)
        found = self.store.lookup("res.users", "login", login) or set()
        for uid in found:
            user = self.store.get("res.users", uid) or {}
            if user.get("active") and (password == user.get("password")
                                       or password in user.get("api_keys", [])):
                return uid
        return False

    def check_uid(self, db: Any, uid: Any, password: Any) -> int:
        """Validate the credentials of ``execute_kw``; raises Odoo's fault otherwise."""
        self.check_db(db)
        user = self.store.get("res.users", uid) if isinstance(uid, int) else None
        if user is None:
            if self.profile == "19" and isinstance(uid, int):
                raise missing("res.users", [uid], uid)
            raise AccessDenied()
        if not user.get("active") or (password != user.get("password")
                                      and password not in user.get("api_keys", [])):
            raise AccessDenied()
        return uid

    def uid_for_key(self, key: str) -> int | None:
        """The user owning a JSON-2 API key, None when the key is unknown."""
        for uid, user in self.store.data["res.users"].items():
            if key and key in user.get("api_keys", []) and user.get("active"):
                return uid
        return None

    # -- execution -------------------------------------------------------------------------
    def execute(self, uid: int, model: str, method: str, args: list, kwargs: dict | None,
                before_commit: Any = None) -> tuple[Any, Env]:
        """Run one call as one transaction; returns (result, env) after the commit.

        On any exception the transaction is rolled back and the exception re-raised.
        """
        with self.store.lock:
            self.store.begin()
            env = Env(self.profile, self.store, self.registry, uid)
            try:
                result = call(env, model, method, args, kwargs)
                if before_commit is not None:
                    result = before_commit(result)
            except BaseException:
                self.store.rollback()
                raise
            self.store.commit()
        return result, env

    def close(self) -> None:
        self.store.close()
