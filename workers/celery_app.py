"""The Celery application, built from Settings, and the reconciler every worker runs."""

from __future__ import annotations

import logging
import threading
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_process_init, worker_ready, worker_shutdown

from placement.config import Settings
from placement.jobs import celery_config
from placement.services.jobs import reconcile as reconcile_jobs
from placement.services.mail import SWEEP_OUTBOX_TASK
from placement.services.notifications import DEADLINE_REMINDERS_TASK
from placement.services.offers import EXPIRE_OFFERS_TASK, OFFER_REMINDERS_TASK
from placement.services.runs.claims import reconcile

log = logging.getLogger(__name__)


def make_celery(settings: Settings | None = None) -> Celery:
    settings = settings or Settings.from_env()
    settings.instance_dir.mkdir(parents=True, exist_ok=True)
    app = Celery("placement")
    app.conf.update(celery_config(settings))
    app.conf.placement_settings = settings
    app.conf.beat_schedule = beat_schedule(settings)
    app.autodiscover_tasks(["workers"], related_name="tasks", force=True)
    app.autodiscover_tasks(["workers"], related_name="maintenance", force=True)
    app.autodiscover_tasks(["workers"], related_name="vetting", force=True)
    return app


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The periodic jobs `placement beat` sends. Each is idempotent, so a beat that runs
    twice, or late, does no harm; `expires` drops a send that waited a whole period."""
    sweep = settings.mail_sweep_seconds
    return {
        "outbox-sweep": {
            "task": SWEEP_OUTBOX_TASK,
            "schedule": sweep,
            "options": {"expires": sweep},
        },
        "deadline-reminders": {
            "task": DEADLINE_REMINDERS_TASK,
            "schedule": 15 * 60.0,
            "options": {"expires": 15 * 60},
        },
        # Vetting: accreditations past their expiry date lapse their host's verification.
        "vetting-sweep": {
            "task": "workers.vetting.sweep_vetting",
            "schedule": 86400.0,
            "options": {"expires": 3600},
        },
        # Retention: failed logins, dead tokens, read notifications, unpublished instances.
        "retention-purge": {
            "task": "workers.maintenance.purge",
            "schedule": crontab(hour=3, minute=17),
            "options": {"expires": 6 * 3600},
        },
        # An offer lapses within a minute of its deadline; its seat is free at once.
        "expire-offers": {
            "task": EXPIRE_OFFERS_TASK,
            "schedule": 60.0,
            "options": {"expires": 60},
        },
        "offer-reminders": {
            "task": OFFER_REMINDERS_TASK,
            "schedule": 15 * 60.0,
            "options": {"expires": 15 * 60},
        },
    }


app = make_celery()


class Reconciler:
    """Re-enqueues runs and background jobs the broker lost, every `requeue_after / 4`
    seconds, from a daemon thread of the worker's main process (see
    `placement.services.runs.claims.reconcile` and `placement.services.jobs.reconcile`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.interval = max(0.5, settings.requeue_after / 4)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="run-reconciler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                requeued = reconcile(settings=self.settings)
                if requeued:
                    log.info("reconciler re-enqueued runs %s", requeued)
                jobs = reconcile_jobs(settings=self.settings)
                if jobs:
                    log.info("reconciler re-enqueued jobs %s", jobs)
            except Exception:
                log.warning("reconciler pass failed; trying again", exc_info=True)


_reconciler: Reconciler | None = None


@worker_ready.connect
def _start_reconciler(**_: Any) -> None:
    global _reconciler
    if _reconciler is None:
        _reconciler = Reconciler(app.conf.placement_settings)
        _reconciler.start()


@worker_shutdown.connect
def _stop_reconciler(**_: Any) -> None:
    if _reconciler is not None:
        _reconciler.stop()


@worker_process_init.connect
def _forget_parent_connections(**_: Any) -> None:
    # A pool process forked after the reconciler opened connections must not share them.
    from placement.db import get_engine

    get_engine(app.conf.placement_settings).dispose(close=False)
