"""What runs and background jobs share on the worker side: compare-and-set updates, the
staleness rule, the give-up message and a heartbeat thread. Each owner (runs/claims.py,
jobs.py) says which row it claims and how it knows the claim is still its own."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Update
from sqlalchemy.engine import Engine

from placement.config import Settings
from placement.db import session_scope
from placement.jobs import enqueue
from placement.models import utcnow

log = logging.getLogger(__name__)

# A run or job is tried at most this often before it is failed for good.
MAX_ATTEMPTS = 3


def try_enqueue(settings: Settings, task: str, what: str, row_id: int) -> bool:
    """Send a row id to its task; False (logged) when the broker is unreachable: the
    reconciler sends it again later."""
    if settings.embedded_broker:
        # The embedded broker is a SQLite file; its directory may not exist yet.
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
    try:
        enqueue(settings, task, row_id)
    except Exception:
        log.warning("could not enqueue %s %s; the reconciler will", what, row_id, exc_info=True)
        return False
    return True


def rows_matched(result: Any) -> int:
    """Rows an UPDATE or DELETE matched (the compare-and-set outcome)."""
    return int(result.rowcount)


def stale_before(settings: Settings) -> datetime:
    """A heartbeat older than this means the worker holding the claim has gone."""
    return utcnow() - timedelta(seconds=settings.requeue_after)


def gave_up(last_error: str | None) -> str:
    reason = last_error or "the worker running it stopped (lost, killed or out of memory)"
    return f"Gave up after {MAX_ATTEMPTS} attempts; last: {reason}"


class Heartbeat:
    """Keeps a claimed row's `heartbeat_at` fresh from a thread while the work goes on (the
    solver may hold the GIL for a while; the interval is a quarter of the staleness limit).
    `beat()` builds the owner's UPDATE, which matches one row while the claim is still held;
    `lost` turns true when it matches none."""

    def __init__(
        self, engine: Engine, settings: Settings, beat: Callable[[], Update], *, name: str
    ) -> None:
        self.engine, self.beat, self.name = engine, beat, name
        self.interval = max(0.2, settings.requeue_after / 4)
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{name}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with session_scope(self.engine) as session:
                    if rows_matched(session.execute(self.beat())) != 1:
                        self.lost = True
                        return
            except Exception:
                log.warning("heartbeat of %s failed", self.name, exc_info=True)
