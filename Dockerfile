# One image for web, worker and beat; the command chooses the role:
#   web:    gunicorn controlplane.wsgi:application --bind 0.0.0.0:8000 --workers 3
#   worker: celery -A controlplane worker -Q default,odoo,webhooks,files --concurrency 4
#   beat:   celery -A controlplane beat
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=controlplane.settings.production \
    CONTROLPLANE_VAR_DIR=/app/var

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

RUN groupadd --system app && useradd --system --gid app --home-dir /app --shell /usr/sbin/nologin app
COPY --chown=app:app . .
# collectstatic needs settings to import; these throwaway values exist only in this layer.
RUN SECRET_KEY=build-only FIELD_ENCRYPTION_KEYS=$(python -c "from cryptography.fernet import Fernet;print(Fernet.generate_key().decode())") \
    python manage.py collectstatic --noinput \
    && mkdir -p /app/var && chown -R app:app /app/var /app/staticfiles

USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/health/').status==200 else 1)"
CMD ["gunicorn", "controlplane.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
