from __future__ import annotations

from celery import current_app

from placement.config import Settings


def task_settings() -> Settings:
    """The settings the worker was built with, or the environment's (a task called
    directly, without a worker)."""
    settings = getattr(current_app.conf, "placement_settings", None)
    return settings if isinstance(settings, Settings) else Settings.from_env()
