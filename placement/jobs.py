"""Talking to the broker from the web side: enqueue by task name, never import workers."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from celery import Celery

from placement.config import Settings

RUN_MATCH_TASK = "workers.tasks.run_match"
RUN_JOB_TASK = "workers.tasks.run_job"


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery settings shared by the producer (web, CLI) and the worker."""
    # kombu's SQLAlchemy transport hands its options to create_engine: give it none.
    transport_options: dict[str, Any] = {}
    if not settings.embedded_broker:
        # Longer than the longest run, so a slow run is not redelivered while still running.
        transport_options["visibility_timeout"] = 4 * 3600
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend,
        "broker_transport_options": transport_options,
        "result_backend_transport_options": transport_options
        if not settings.embedded_broker
        else {},
        "broker_connection_retry_on_startup": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_serializer": "json",
        "accept_content": ["json"],
        "result_serializer": "json",
        "result_expires": 24 * 3600,
        "timezone": "UTC",
        "enable_utc": True,
        "worker_hijack_root_logger": False,
    }


@lru_cache(maxsize=4)
def _producer(settings: Settings) -> Celery:
    app = Celery("placement-producer", set_as_current=False)
    app.conf.update(celery_config(settings))
    return app


def enqueue(settings: Settings, task_name: str, *args: Any) -> str:
    """Send a task by name; returns the task id. Call only after the database commit."""
    result = _producer(settings).send_task(task_name, args=list(args))
    return str(result.id)


def broker_ok(settings: Settings, timeout: float = 2.0) -> bool:
    try:
        with _producer(settings).connection_for_write() as conn:
            conn.ensure_connection(max_retries=0, timeout=timeout)
            if settings.embedded_broker:
                conn.default_channel  # noqa: B018  (opens the SQLite file, creating the tables)
        return True
    except Exception:
        return False
