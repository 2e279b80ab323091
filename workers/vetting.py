"""The daily vetting job: expired accreditations lapse their host's verification, DBS
checks past the default age stop counting, orphaned evidence files go.

Beat entry (workers/celery_app.py `beat_schedule`):
    "vetting-sweep": {"task": VETTING_SWEEP_TASK, "schedule": 24 * 3600.0,
                      "options": {"expires": 3600}}
"""

from __future__ import annotations

from celery import shared_task

from placement.db import session_scope
from placement.services import vetting
from workers.settings import task_settings

VETTING_SWEEP_TASK = "workers.vetting.sweep_vetting"


@shared_task(name=VETTING_SWEEP_TASK, acks_late=True)
def sweep_vetting() -> dict[str, int]:
    """Idempotent: a second run the same day changes nothing."""
    settings = task_settings()
    with session_scope(settings) as session:
        return vetting.sweep(session=session, storage=vetting.evidence_dir(settings.instance_dir))
