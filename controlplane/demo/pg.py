"""A fresh PostgreSQL database for a demo or benchmark run (no Django needed)."""

from __future__ import annotations

import uuid


def _admin_url(url: str) -> str:
    return url.rsplit("/", 1)[0] + "/postgres"


def fresh_postgres_url(base_url: str, prefix: str = "demo") -> tuple[str, str]:
    """Create an empty database on the server of ``base_url`` (``postgres://…/anything``);
    returns its URL and name."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_admin_url(base_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base_url.rsplit("/", 1)[0] + f"/{name}", name


def drop_postgres(base_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(_admin_url(base_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
