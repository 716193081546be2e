"""Production profile: everything from the environment, secure by default.

``DJANGO_SETTINGS_MODULE=controlplane.settings.production python manage.py check --deploy``
is clean when SECRET_KEY, FIELD_ENCRYPTION_KEYS, DATABASE_URL and ALLOWED_HOSTS are set.
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from controlplane.settings.base import *  # noqa: F403
from controlplane.settings.env import env_bool, env_int, env_str

for _name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS"):
    if not env_str(_name):
        raise ImproperlyConfigured(f"{_name} must be set in the environment for production")

DEBUG = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Persistent database connections (checked before reuse): a new PostgreSQL connection per
# request costs more than a typical API write. DB_CONN_MAX_AGE=0 turns it off.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
