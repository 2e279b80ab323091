"""A background job's page: how far it has got, then what it did (counts, the bad rows of
an import, the instance file to download)."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from placement.errors import NotFound
from placement.models import Job, Round, RoundTrainee, User
from placement.services import jobs
from placement.services.common import get_round, require_role

KIND_LABELS = {
    "approve_all": "Approving all open proposals",
    "import_trainees": "Importing trainees",
    "import_slots": "Importing slots",
    "export_instance": "Exporting the instance file",
}
STATUS_LABELS = {
    "queued": "waiting for a worker",
    "running": "working",
    "succeeded": "done",
    "failed": "failed",
}


@dataclass(frozen=True)
class JobPage:
    job: Job
    round: Round | None
    title: str
    percent: int
    status_label: str
    finished: bool
    # What the job did: the synchronous answer's body (an error's `{message, errors}` too).
    result: Any = None
    problems: list[dict[str, Any]] = field(default_factory=list)


def job_page(session: Session, actor: User, job_id: int) -> JobPage:
    require_role(actor, "coordinator")
    job = jobs.get_job(session=session, actor=actor, job_id=job_id)
    finished = job.status in jobs.TERMINAL
    # The instance file is megabytes: the page links to it rather than reading it.
    result = job.result if finished and job.kind != "export_instance" else None
    problems = result.get("errors") if isinstance(result, dict) else None
    return JobPage(
        job=job,
        round=session.get(Round, job.round_id) if job.round_id is not None else None,
        title=KIND_LABELS[job.kind],
        percent=round(100 * job.progress),
        status_label=STATUS_LABELS[job.status],
        finished=finished,
        result=result,
        problems=problems if isinstance(problems, list) else [],
    )


def instance_download(session: Session, actor: User, job_id: int) -> bytes:
    """The instance file an export job wrote, as its JSON bytes."""
    require_role(actor, "coordinator")
    job = jobs.get_job(session=session, actor=actor, job_id=job_id)
    if job.kind != "export_instance" or job.status != "succeeded" or job.result_gz is None:
        raise NotFound("This job has no instance file to download.")
    return gzip.decompress(job.result_gz)


def export_size(session: Session, actor: User, round_id: int) -> int:
    """How many trainees the round's instance file holds (whether to export in the
    background); NotFound for a round the coordinator cannot see."""
    require_role(actor, "coordinator")
    get_round(session, round_id, actor=actor)
    count = session.exec(
        select(func.count()).select_from(RoundTrainee).where(col(RoundTrainee.round_id) == round_id)
    ).one()
    return int(count)


def file_rows(data: bytes) -> int:
    """About how many rows a CSV file has (lines after the header): enough to decide
    whether its import runs in the background."""
    return max(0, data.rstrip(b"\r\n").count(b"\n"))
