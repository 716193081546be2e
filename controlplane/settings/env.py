"""Small readers for settings taken from the environment.

Defaults are for the embedded profile (SQLite, filesystem broker): a fresh machine with only
Python runs the control plane without any variable set. Production sets them all.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("CONTROLPLANE_VAR_DIR", BASE_DIR / "var"))


def env_str(name: str, default: str = "") -> str:
    """The variable's value, or ``default`` when unset or empty."""
    return os.environ.get(name) or default


def env_bool(name: str, default: bool = False) -> bool:
    """True for 1/true/yes/on (any case); ``default`` when unset."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    """Comma-separated values, stripped, empties dropped."""
    raw = os.environ.get(name)
    if not raw:
        return list(default or [])
    return [part.strip() for part in raw.split(",") if part.strip()]


def local_secrets() -> dict[str, str]:
    """Secrets for the embedded profile, generated once into ``var/local-secrets.json``.

    Never used when the environment provides ``SECRET_KEY`` and ``FIELD_ENCRYPTION_KEYS``;
    the file lives under ``var/`` which is not in the repository.
    """
    path = VAR_DIR / "local-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(values))
    tmp.chmod(0o600)
    try:
        os.link(tmp, path)  # atomic: two processes starting at once agree on one file
    except FileExistsError:
        pass
    tmp.unlink(missing_ok=True)
    return json.loads(path.read_text())
