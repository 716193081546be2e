"""WSGI entry point of the benchmark server: the project's application with the bare-insert
baseline URL added (``bench/api/urls.py``). Started by ``bench/api/run.py --http``."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "controlplane.settings.base")

from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

settings.ROOT_URLCONF = "bench.api.urls"
settings.ALLOWED_HOSTS = ["*"]
application = get_wsgi_application()
