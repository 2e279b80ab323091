"""Periodic housekeeping tasks, sent by Celery beat; thin, idempotent, like workers.tasks."""

from __future__ import annotations

import logging

from celery import shared_task

from placement.db import session_scope
from placement.services.retention import purge as purge_expired
from workers.settings import task_settings

log = logging.getLogger(__name__)

PURGE_TASK = "workers.maintenance.purge"


@shared_task(name=PURGE_TASK, acks_late=True)
def purge() -> list[str]:
    """Remove what is past its retention (see placement.services.retention); running it
    twice removes nothing more the second time."""
    settings = task_settings()
    with session_scope(settings) as session:
        report = purge_expired(session=session, settings=settings)
    lines = report.lines()
    log.info("purge: %s", "; ".join(lines))
    return lines
