"""Approved placements and their offers: who sees them, the round's result as CSV, and
the round's offer report (counts by status, host kind and training provider)."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from placement.errors import WrongState
from placement.models import (
    OFFER_STATUSES,
    OfferStatus,
    Organisation,
    Placement,
    PlacementStatus,
    RoundTrainee,
    Slot,
    Trainee,
    User,
)
from placement.services.common import (
    Page,
    get_round,
    organisation_of,
    paginate,
    require_role,
    trainee_of,
)
from placement.services.spreadsheets import rows_to_xlsx_stream


@dataclass(frozen=True)
class PlacementView:
    id: int
    round_id: int
    trainee_id: int
    trainee_name: str
    slot_id: int
    slot_title: str
    organisation_id: int
    proposal_id: int | None
    status: str
    created_at: datetime
    withdrawn_at: datetime | None
    offer_status: str | None
    offered_at: datetime | None
    offer_expires_at: datetime | None
    offer_decided_at: datetime | None
    # Contact and shared needs: the coordinator and the trainee always; the host once the
    # offer is accepted (needs only if the trainee chose to share them).
    trainee_email: str | None
    trainee_needs: str | None
    # The trainee's own words: the coordinator and the trainee only.
    decline_reason: str | None


def _view(actor: User, p: Placement, t: Trainee, s: Slot) -> PlacementView:
    assert p.id is not None
    host = actor.role == "employer"
    contact = not host or p.offer_status == OfferStatus.ACCEPTED
    return PlacementView(
        id=p.id,
        round_id=p.round_id,
        trainee_id=p.trainee_id,
        trainee_name=t.name,
        slot_id=p.slot_id,
        slot_title=s.title,
        organisation_id=s.organisation_id,
        proposal_id=p.proposal_id,
        status=p.status,
        created_at=p.created_at,
        withdrawn_at=p.withdrawn_at,
        offer_status=p.offer_status,
        offered_at=p.offered_at,
        offer_expires_at=p.offer_expires_at,
        offer_decided_at=p.offer_decided_at,
        trainee_email=t.email if contact else None,
        trainee_needs=(t.needs if not host or t.share_needs else None) if contact else None,
        decline_reason=None if host else p.decline_reason,
    )


def list_placements(
    *,
    session: Session,
    actor: User,
    round_id: int,
    status: str | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page[PlacementView]:
    """Coordinators see all; once the round is published, an employer sees the offers at
    their own slots and a trainee their own (open, answered or ended); placements withdrawn
    before publication were never offers and stay the coordinator's."""
    require_role(actor, "trainee", "employer", "coordinator")
    rnd = get_round(session, round_id, actor=actor)
    statement = (
        select(Placement, Trainee, Slot)
        .join(Trainee, col(Trainee.id) == col(Placement.trainee_id))
        .join(Slot, col(Slot.id) == col(Placement.slot_id))
        .where(Placement.round_id == rnd.id)
    )
    if actor.role != "coordinator":
        if rnd.status != "published":
            raise WrongState("The round's placements are not published yet.")
        statement = statement.where(col(Placement.offer_status).is_not(None))
        if actor.role == "employer":
            org = organisation_of(session, actor)
            statement = statement.where(Slot.organisation_id == (org.id if org else -1))
        else:
            statement = statement.where(Placement.trainee_id == trainee_of(session, actor).id)
    if status is not None:
        statement = statement.where(Placement.status == status)
    raw = paginate(session, statement.order_by(col(Placement.id)), page, per_page)
    return Page(
        items=[_view(actor, p, t, s) for p, t, s in raw.items],
        total=raw.total,
        page=raw.page,
        per_page=raw.per_page,
    )


CSV_COLUMNS = (
    "placement_id",
    "trainee_id",
    "trainee_name",
    "trainee_email",
    "slot_id",
    "slot_title",
    "discipline",
    "organisation_id",
    "organisation_name",
    "starts_on",
    "ends_on",
    "approved_at",
    "status",
    "offer_status",
    "offered_at",
    "offer_expires_at",
    "offer_decided_at",
)


def _cell(value: object) -> str:
    """Spreadsheet-safe text: a leading = + - @ would otherwise run as a formula."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


# Rows read from the database per batch while an export streams (a server-side cursor on
# Postgres), and so written to the client per chunk.
EXPORT_BATCH = 2000


def _placement_rows(session: Session, round_id: int) -> Iterator[list[str]]:
    """The export's rows, read in batches, each as spreadsheet-safe text."""
    statement = (
        sa_select(
            col(Placement.id),
            col(Trainee.id),
            col(Trainee.name),
            col(Trainee.email),
            col(Slot.id),
            col(Slot.title),
            col(Slot.discipline),
            col(Organisation.id),
            col(Organisation.name),
            col(Slot.starts_on),
            col(Slot.ends_on),
            col(Placement.created_at),
            col(Placement.status),
            col(Placement.offer_status),
            col(Placement.offered_at),
            col(Placement.offer_expires_at),
            col(Placement.offer_decided_at),
        )
        .join(Trainee, col(Trainee.id) == col(Placement.trainee_id))
        .join(Slot, col(Slot.id) == col(Placement.slot_id))
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .where(col(Placement.round_id) == round_id)
        .order_by(col(Placement.id))
        .execution_options(yield_per=EXPORT_BATCH)
    )
    for row in session.execute(statement):
        yield [_cell(v.isoformat() if isinstance(v, date | datetime) else v) for v in row]


def _checked_round(session: Session, actor: User, round_id: int) -> int:
    require_role(actor, "coordinator")
    rnd = get_round(session, round_id, actor=actor)
    assert rnd.id is not None
    return rnd.id


def placements_csv_stream(*, session: Session, actor: User, round_id: int) -> Iterator[str]:
    """The round's placements as CSV (UTF-8, header row first), chunk by chunk: live ones
    and those whose offer ended (declined, expired, withdrawn), with the offer's status and
    dates. Who may see it is checked before the first chunk; the header is the first chunk,
    then one chunk per batch of rows, so a national round starts downloading at once."""
    rid = _checked_round(session, actor, round_id)

    def chunks() -> Iterator[str]:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        try:
            for n, row in enumerate(_placement_rows(session, rid), start=1):
                writer.writerow(row)
                if n % EXPORT_BATCH == 0:
                    yield out.getvalue()
                    out.seek(0)
                    out.truncate()
        finally:
            # The rows are read after the request has ended: its session was closed and
            # began again here; end that transaction (on SQLite it holds the write lock).
            session.close()
        if out.tell():
            yield out.getvalue()

    return chunks()


def placements_xlsx(*, session: Session, actor: User, round_id: int) -> bytes:
    """The same table as the CSV export, as an XLSX workbook (written row by row)."""
    rid = _checked_round(session, actor, round_id)
    return rows_to_xlsx_stream(
        itertools.chain([list(CSV_COLUMNS)], _placement_rows(session, rid)), title="Placements"
    )


# --- the round's offer report -------------------------------------------------------------

NO_PROVIDER = "(no provider given)"


@dataclass(frozen=True)
class OfferCounts:
    """Offers of one group (the round, a host kind, a training provider) by status."""

    group: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class FreeSeat:
    slot_id: int
    slot_title: str
    organisation_name: str
    capacity: int
    free: int


@dataclass(frozen=True)
class RoundReport:
    round_id: int
    round_name: str
    round_status: str
    statuses: tuple[str, ...]
    overall: OfferCounts
    by_host_kind: list[OfferCounts]
    by_provider: list[OfferCounts]
    free_seats: list[FreeSeat]
    free_seat_total: int
    # The round's trainees with neither an open nor an accepted offer (nor, before
    # publication, a live placement): those a clearing run may still place.
    unplaced: int


def _grouped(rows: list[tuple[str | None, str, int]]) -> list[OfferCounts]:
    groups: dict[str, dict[str, int]] = {}
    for group, status, n in rows:
        counts = groups.setdefault(group or NO_PROVIDER, dict.fromkeys(OFFER_STATUSES, 0))
        counts[status] += int(n)
    return [OfferCounts(group, counts) for group, counts in sorted(groups.items())]


def round_report(*, session: Session, actor: User, round_id: int) -> RoundReport:
    """Offers by status, by host kind and by training provider; the seats still free."""
    require_role(actor, "coordinator")
    rnd = get_round(session, round_id, actor=actor)
    assert rnd.id is not None
    offered = (
        select(Organisation.kind, Trainee.provider, Placement.offer_status, func.count())
        .join(Slot, col(Slot.id) == col(Placement.slot_id))
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .join(Trainee, col(Trainee.id) == col(Placement.trainee_id))
        .where(Placement.round_id == rnd.id, col(Placement.offer_status).is_not(None))
        .group_by(col(Organisation.kind), col(Trainee.provider), col(Placement.offer_status))
    )
    rows = [
        (kind, provider, str(status), int(n)) for kind, provider, status, n in session.exec(offered)
    ]
    overall = _grouped([("all", status, n) for _, _, status, n in rows])
    free_rows = session.exec(
        select(Slot, Organisation)
        .join(Organisation, col(Organisation.id) == col(Slot.organisation_id))
        .where(Slot.round_id == rnd.id, col(Slot.filled) < col(Slot.capacity))
        .order_by(col(Organisation.name), col(Slot.title), col(Slot.id))
    ).all()
    held = select(Placement.trainee_id).where(
        Placement.round_id == rnd.id, Placement.status == PlacementStatus.LIVE
    )
    unplaced = session.exec(
        select(func.count())
        .select_from(RoundTrainee)
        .where(RoundTrainee.round_id == rnd.id, col(RoundTrainee.trainee_id).not_in(held))
    ).one()
    free_seats = [
        FreeSeat(
            slot_id=pk_of(slot.id),
            slot_title=slot.title,
            organisation_name=organisation.name,
            capacity=slot.capacity,
            free=slot.capacity - slot.filled,
        )
        for slot, organisation in free_rows
    ]
    return RoundReport(
        round_id=rnd.id,
        round_name=rnd.name,
        round_status=rnd.status,
        statuses=OFFER_STATUSES,
        overall=overall[0] if overall else OfferCounts("all", dict.fromkeys(OFFER_STATUSES, 0)),
        by_host_kind=_grouped([(kind, status, n) for kind, _, status, n in rows]),
        by_provider=_grouped([(provider, status, n) for _, provider, status, n in rows]),
        free_seats=free_seats,
        free_seat_total=sum(seat.free for seat in free_seats),
        unplaced=int(unplaced),
    )


def pk_of(value: int | None) -> int:
    assert value is not None
    return value


def round_report_csv(*, session: Session, actor: User, round_id: int) -> str:
    """The round report as CSV: one row per group (`section` is round, host_kind or
    provider), a column per offer status, then the total."""
    report = round_report(session=session, actor=actor, round_id=round_id)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(("section", "group", *report.statuses, "total"))
    sections = (
        ("round", [report.overall]),
        ("host_kind", report.by_host_kind),
        ("provider", report.by_provider),
    )
    for section, groups in sections:
        for group in groups:
            writer.writerow(
                _cell(v)
                for v in (
                    section,
                    report.round_name if section == "round" else group.group,
                    *(group.counts[s] for s in report.statuses),
                    group.total,
                )
            )
    return out.getvalue()
