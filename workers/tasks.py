"""Thin tasks: they take ids, re-read state and call one service."""

from __future__ import annotations

from typing import Any

from celery import Task, chord, current_app, shared_task

from placement.jobs import RUN_JOB_TASK, RUN_MATCH_TASK
from placement.services import jobs, mail, notifications, offers
from placement.services.runs import execution
from workers.settings import task_settings

SOLVE_COMPONENTS_TASK = "workers.tasks.solve_components"
FINISH_COMPONENTS_TASK = "workers.tasks.finish_components"


@shared_task(name="workers.tasks.ping")
def ping(value: str = "pong") -> str:
    """Round trip through the broker; used by health checks and tests."""
    return value


def _fan_out(run_id: int, attempt: int, groups: list[list[int]]) -> None:
    """One task per component group, then one task that merges and writes (a chord)."""
    header = [
        current_app.signature(SOLVE_COMPONENTS_TASK, args=(run_id, attempt, group))
        for group in groups
    ]
    callback = current_app.signature(FINISH_COMPONENTS_TASK, args=(run_id, attempt))
    chord(header)(callback)


@shared_task(name=RUN_MATCH_TASK, acks_late=True, reject_on_worker_lost=True)
def run_match(run_id: int) -> None:
    """Claim the run and compute its proposals; a finished or owned run is left alone."""
    execution.execute_run(run_id, settings=task_settings(), fan_out=_fan_out)


@shared_task(name=SOLVE_COMPONENTS_TASK, acks_late=True, reject_on_worker_lost=True)
def solve_components(run_id: int, attempt: int, indices: list[int]) -> Any:
    return execution.solve_components(run_id, attempt, indices, settings=task_settings())


@shared_task(name=FINISH_COMPONENTS_TASK, acks_late=True, reject_on_worker_lost=True)
def finish_components(results: list[Any], run_id: int, attempt: int) -> None:
    execution.finish_components(results, run_id, attempt, settings=task_settings())


@shared_task(name=RUN_JOB_TASK, acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: int) -> str | None:
    """Claim a background job (approve-all, an import, the instance export) and do it; a
    finished or owned job is left alone."""
    return jobs.execute_job(job_id, settings=task_settings())


# --- mail ------------------------------------------------------------------------------------


@shared_task(
    name=mail.SEND_MAIL_TASK,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,
)
def send_mail(self: Task, outbox_id: int) -> str:
    """Send one outbox message; a sent or claimed one is left alone. A failed attempt is
    retried after the service's backoff (the row also records when, for the sweep)."""
    delivery = mail.deliver(outbox_id, settings=task_settings())
    if delivery.outcome is mail.Outcome.RETRY:
        raise self.retry(countdown=delivery.retry_in)
    return delivery.outcome.value


@shared_task(name=mail.DISPATCH_MAIL_TASK, acks_late=True, reject_on_worker_lost=True)
def dispatch_mail(outbox_ids: list[int]) -> None:
    """Fan a large commit's mail out into one send task per message."""
    mail.dispatch(settings=task_settings(), ids=outbox_ids)


@shared_task(name=mail.SWEEP_OUTBOX_TASK)
def sweep_outbox() -> list[int]:
    """Periodic (beat): enqueue mail the broker lost."""
    return mail.sweep_outbox(settings=task_settings())


@shared_task(name=notifications.DEADLINE_REMINDERS_TASK)
def send_deadline_reminders() -> int:
    """Periodic (beat): remind trainees 48 h before a round's preference deadline."""
    return notifications.send_deadline_reminders(settings=task_settings())


# --- offers ----------------------------------------------------------------------------------


@shared_task(name=offers.EXPIRE_OFFERS_TASK)
def expire_offers() -> int:
    """Periodic (beat): end the offers past their deadline and free their seats."""
    return offers.expire_due_offers(settings=task_settings())


@shared_task(name=offers.OFFER_REMINDERS_TASK)
def send_offer_reminders() -> int:
    """Periodic (beat): remind trainees once, 48 h before their offer lapses."""
    return offers.remind_due_offers(settings=task_settings())
