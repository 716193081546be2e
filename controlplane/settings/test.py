"""Test profile: the base settings with fast hashing, eager-free Celery and a test media root.

Which database and broker the tests use is still decided by DATABASE_URL and
CELERY_BROKER_URL (SQLite and the filesystem transport when unset).
"""

from __future__ import annotations

import tempfile

from controlplane.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MEDIA_ROOT = tempfile.mkdtemp(prefix="controlplane-test-media-")
LOG_LEVEL = "WARNING"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}  # noqa: F405
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
