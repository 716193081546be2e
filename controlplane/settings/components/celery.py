"""Celery: at-least-once delivery. The database is the queue of record; the broker only wakes
workers (see docs/sync-engine.md for every knob below)."""

from __future__ import annotations

from kombu import Queue

from controlplane.settings.env import VAR_DIR, env_int, env_list, env_str


def env_float(name: str, default: float) -> float:
    raw = env_str(name)
    return float(raw) if raw else float(default)


_broker_dir = VAR_DIR / "broker"

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The embedded transport: no server to install; messages are files under var/broker.
    for sub in ("out", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        # Broadcast (pidbox) exchanges; kombu's default is ./control in the working directory.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }

CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redelivery of an unacknowledged message must come after the hard limit, never before,
    # or a slow task would run twice at once. Short socket timeouts: a publish while Redis is
    # down must fail fast (the outbox row is committed; the relay publishes it later).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_TASK_TIME_LIMIT + 300,
        "socket_timeout": env_float("CELERY_REDIS_SOCKET_TIMEOUT", 5.0),
        "socket_connect_timeout": env_float("CELERY_REDIS_SOCKET_TIMEOUT", 5.0),
    }

CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker keeps reconnecting while the broker is away, however long (never gives up).
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 4.0)
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Keep our JSON logs (with correlation ids) in the worker instead of Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Queues, and routing per task (dispatch messages follow their operation's registration).
CELERY_TASK_QUEUES_NAMES = ("default", "odoo", "webhooks", "files")
CELERY_TASK_QUEUES = tuple(Queue(name, routing_key=name) for name in CELERY_TASK_QUEUES_NAMES)
CELERY_TASK_ROUTES = ("controlplane.sync.routing.route_task",)
CELERY_TASK_CREATE_MISSING_QUEUES = True

# The relay: the beat schedule is code (batch windows are SyncPolicy rows in the database).
SYNC_RELAY_INTERVAL_SECONDS = env_float("SYNC_RELAY_INTERVAL_SECONDS", 10.0)
CELERY_BEAT_SCHEDULE = {
    "sync-relay": {
        "task": "controlplane.sync.tasks.relay_task",
        "schedule": SYNC_RELAY_INTERVAL_SECONDS,
        "options": {"queue": "default", "expires": SYNC_RELAY_INTERVAL_SECONDS * 3},
    },
}

# --- sync engine knobs ------------------------------------------------------------------
# A claimed job's lease must outlive the hard time limit: a live task never loses its lease.
SYNC_LEASE_SECONDS = env_float("SYNC_LEASE_SECONDS", CELERY_TASK_TIME_LIMIT + 60)
SYNC_BACKOFF_BASE_SECONDS = env_float("SYNC_BACKOFF_BASE_SECONDS", 2.0)
SYNC_BACKOFF_CAP_SECONDS = env_float("SYNC_BACKOFF_CAP_SECONDS", 3600.0)
SYNC_DEFAULT_MAX_ATTEMPTS = env_int("SYNC_DEFAULT_MAX_ATTEMPTS", 8)
SYNC_RELAY_REPUBLISH_AFTER_SECONDS = env_float("SYNC_RELAY_REPUBLISH_AFTER_SECONDS", 30.0)
SYNC_RELAY_MAX_MESSAGES_PER_GROUP = env_int("SYNC_RELAY_MAX_MESSAGES_PER_GROUP", 8)
# Extra modules registering handlers (comma-separated), e.g. controlplane.sync.testing in tests.
SYNC_EXTRA_HANDLER_MODULES = env_list("SYNC_EXTRA_HANDLER_MODULES")
